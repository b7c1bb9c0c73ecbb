import os
import re

from setuptools import setup
from setuptools.command.build_py import build_py


class build_py_with_stubs(build_py):
    """Also install the module as a stub-only package, assistant_stream-stubs.

    Type checkers do not read single-module distributions (PEP 561 covers
    packages only), but they do read stub packages: the module's own text,
    as __init__.pyi, gives them its inline types.  The module itself stays
    one file, importable as assistant_stream."""

    def run(self):
        super().run()
        stubs = os.path.join(self.build_lib, "assistant_stream-stubs")
        self.mkpath(stubs)
        self.copy_file("assistant_stream.py", os.path.join(stubs, "__init__.pyi"))


with open("assistant_stream.py", encoding="utf-8") as module:
    version = re.search(r'^__version__ = "([^"]+)"', module.read(), re.MULTILINE).group(1)

with open("README.md", encoding="utf-8") as readme:
    long_description = readme.read()

setup(
    # Not "assistant-stream": that name on PyPI is assistant-ui's package, whose
    # import name is assistant_stream too (see the README).
    name="assistant-stream-sync",
    version=version,
    description=(
        "Stream Assistants runs, Responses and Chat Completions over Server-Sent Events, "
        "synchronously, with callbacks: one file, requests and sseclient-py."
    ),
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="MIT",
    py_modules=["assistant_stream"],
    cmdclass={"build_py": build_py_with_stubs},
    entry_points={"console_scripts": ["assistant-stream = assistant_stream:main"]},
    python_requires=">=3.8",
    install_requires=["requests>=2.25", "sseclient-py>=1.7.2"],
    extras_require={
        "test": [
            "pytest>=7",
            "pytest-cov>=4",
            "responses>=0.23",
            "hypothesis>=6",
            "gevent>=25.4.1; python_version >= '3.9'",
            "playwright>=1.40; python_version >= '3.9'",  # drives Debian's chromium; downloads no browser
            "gunicorn>=23; python_version >= '3.9'",  # the Deep Chat relay's test under gunicorn -k gevent
        ],
        "deepchat": [  # examples/deep_chat/app.py: the relay under gevent (or gunicorn -k gevent)
            "gevent>=25.4.1",
            "gunicorn>=23",
        ],
        "dev": [  # the gates CI runs besides the tests
            "mypy==2.4.1",
            "ruff==0.17.6",
            "vermin==1.9.2",
            "types-requests",
        ],
        "bench": [
            "openai",
            "matplotlib",
            "gevent>=25.4.1",
        ],
    },
    classifiers=[
        "Development Status :: 4 - Beta",
        "Intended Audience :: Developers",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.8",
        "Programming Language :: Python :: 3.13",
        "Topic :: Internet :: WWW/HTTP",
        "Typing :: Typed",
    ],
)
