"""Deployment to an NVIDIA Jetson: pushing a bundle (`core.bundle`: graph + manifest + device scripts) over SSH.

`push` uploads a bundle to a device, verifies it there, has the device build its TensorRT engine and switches the
active deployment atomically; `source` turns a model directory into a bundle on the way. The `deploy` CLI
subcommand is `core.commands.deploy`.
The scripts under `device/` run on the Jetson itself (Python 3.8 or 3.10, no dependency on this package).
Nothing here is imported by `import core.deploy`, so the CLI pays for paramiko only when it deploys.
"""
