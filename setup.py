"""vidzoo: a Keras 3 / TensorFlow model zoo for efficient video recognition."""
from setuptools import find_packages, setup

setup(
    name="vidzoo",
    version="0.1.0",
    description="Keras 3 / TensorFlow model zoo for efficient video recognition "
    "(SGS/ATFR, SFC, S3D-G, MTConv, full-video clustering).",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["vidzoo", "vidzoo.*"]),
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3",
        "av",
        "absl-py",
        "tensorboard",
        "matplotlib",
        "numpy",
    ],
    extras_require={"test": ["pytest", "jax"]},  # jax: the backend parity tests
    entry_points={"console_scripts": ["vidzoo=vidzoo.cli:run"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Operating System :: POSIX :: Linux",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
