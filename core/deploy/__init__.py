"""Deployment to an NVIDIA Jetson: bundles (graph + manifest + device scripts), and pushing them over SSH.

`bundle` writes and verifies a deployment bundle; `push` uploads one to a device, verifies it there, has the device
build its TensorRT engine and switches the active deployment atomically; `command` is the `deploy` CLI subcommand.
The scripts under `device/` run on the Jetson itself (Python 3.8 or 3.10, no dependency on this package).
Nothing here is imported by `import core.deploy`, so the CLI pays for paramiko only when it deploys.
"""
