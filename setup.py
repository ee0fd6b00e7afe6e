"""Builds the `encore` Python package with CMake (see pyproject.toml).

The C++ module (python/src/module.cc) is compiled by the project's own CMake
build for the interpreter running pip, in build/pip-<python version>, and
copied with the pure-Python files (python/encore/*.py) into the wheel.
Environment: ENCORE_CMAKE_ARGS adds CMake arguments; JOBS sets the build
parallelism (default: all cores).
"""

import os
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = os.path.join(ROOT, "build", "pip-%d.%d" % sys.version_info[:2])
        args = [
            "-S", ROOT, "-B", build_dir, "-G", "Ninja",
            "-DCMAKE_BUILD_TYPE=Release",
            "-DENCORE_TESTS=OFF", "-DENCORE_BENCH=OFF", "-DENCORE_PYTHON=ON",
            "-DPython3_EXECUTABLE=" + sys.executable,
        ]
        if shutil.which("ccache"):
            args.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        args += shlex.split(os.environ.get("ENCORE_CMAKE_ARGS", ""))
        subprocess.check_call(["cmake"] + args)
        jobs = os.environ.get("JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(["ninja", "-C", build_dir, "-j", jobs, "encore_python"])
        built = os.path.join(build_dir, "python", "encore")
        target = os.path.dirname(self.get_ext_fullpath(ext.name))
        os.makedirs(target, exist_ok=True)
        for name in os.listdir(built):
            if name.startswith("_encore") and name.endswith(".so"):
                shutil.copy2(os.path.join(built, name), self.get_ext_fullpath(ext.name))


setup(
    packages=["encore"],
    package_dir={"": "python"},
    ext_modules=[Extension("encore._encore", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
)
