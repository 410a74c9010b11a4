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
    package_data={"vidzoo.zoo": ["kinetics400_classes.txt"]},
    extras_require={
        # jax: the backend parity tests; torch, torchvision, pytorchvideo: the
        # converters' references (torchvision 0.29's ops need this CUDA torch
        # build; it runs on the CPU); tf2onnx, onnxruntime, ai-edge-litert: the
        # ONNX / TFLite exports and their runtimes
        "test": ["pytest", "pytest-xdist", "filelock", "jax", "torch==2.14.1", "torchvision==0.29.1", "pytorchvideo==0.1.5",
                 "tf2onnx==1.17.0", "onnxruntime", "ai-edge-litert"],
        "convert": ["torch"],
        "export": ["tf2onnx==1.17.0", "onnxruntime", "ai-edge-litert"],
    },
    entry_points={"console_scripts": ["vidzoo=vidzoo.cli:run"]},
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Operating System :: POSIX :: Linux",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
