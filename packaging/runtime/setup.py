"""alog-runtime ships a compiled library (alog_runtime/libalog.so) but no CPython extension: it
calls the library through ctypes. So its wheel is platform-specific with no Python ABI,
py3-none-<platform> (llama-cpp-python's pattern), whoever builds it: alog_detect.package.wheel
(which then retags the platform for the library's target) or cibuildwheel (whose auditwheel
repair gives the manylinux tag).
"""

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True  # libalog.so is for one architecture: a platform wheel, files in platlib


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform  # no CPython ABI: any Python 3 on that platform


setup(distclass=BinaryDistribution, cmdclass={"bdist_wheel": PlatformWheel})
