"""Getting the model onto the disk: where it may already be, downloading it, and proving it is whole.

Owns: the layout of model folders (official release and lite pack), the manifest written next to a model, the
download sources (Hugging Face, ModelScope), the atomic install and the progress log. The public entry points are
in `wyoming_cosyvoice.download`.
"""
