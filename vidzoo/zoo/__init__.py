"""Backbone zoo (I3D, S3D(-G), R(2+1)D, 3D ResNet, X3D, SlowFast, TSM, MTNet).

Not built yet: see the zoo issue. The layers these models use live in
`vidzoo.layers`.
"""
