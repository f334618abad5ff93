"""The 40-layer architecture the edit benchmarks share (Python-side and in-browser)."""

from convlab_widgets.architecture import Architecture


def forty_layers(input_shape=(64, 64, 3)) -> Architecture:
    """A valid 40-row stack touching most of the catalog: augmentation, conv + batch norm, pooling, dense."""
    arch = Architecture(input_shape=input_shape, num_classes=10)
    arch.add("RandomFlip", mode="horizontal").add("RandomRotation", factor=0.05).add("Rescaling", scale=1 / 255)
    for stage in range(6):
        filters = 16 * (stage + 1)
        arch.add("Conv2D", filters=filters, kernel_size=3, padding="same", use_bias=False)
        arch.add("BatchNormalization", scale=False).add("Activation", activation="relu")
        arch.add("Conv2D", filters=filters, kernel_size=1, padding="same", activation="relu")
        if stage % 2:
            arch.add("MaxPooling2D", pool_size=2)
        arch.add("Dropout", rate=0.1)
    arch.add("Flatten").add("Dense", units=128, activation="relu").add("Dropout", rate=0.3)
    arch.add("Dense", units=10, activation="softmax")
    assert len(arch) == 40 and arch.summary().is_valid, arch.summary()
    return arch
