"""Recurrent layers unrolled over their time steps, for converters that cannot loop over a dynamic batch.

LiteRT's converter lowers a Keras LSTM/GRU over a dynamic batch to tensor
lists of unknown shape, which it cannot do ("requires element_shape to be
static"). The same layers with ``unroll=True`` become plain operations
repeated once per time step, which convert with the batch left dynamic, so
the standalone interpreter can be resized to any batch. Only for short,
known sequences: the graph grows with the number of steps.
"""

MAX_STEPS = 256


def time_steps(signature):
    """The longest known time dimension among sequence inputs, or `None` if any is unknown."""
    import keras

    steps = [s.shape[1] for s in keras.tree.flatten(signature) if len(s.shape) >= 3]
    if not steps or any(n is None for n in steps):
        return None
    return max(steps)


def unrolled(model):
    """A copy of `model`, same weights, with every recurrent layer unrolled; `None` if it cannot be made.

    Functional and Sequential models are cloned layer by layer from their
    configs; a subclassed model, a layer without a config, or a model with
    no recurrent layer gives `None`.
    """
    import keras

    changed = []

    def clone(layer):
        config = layer.get_config()
        if _set_unroll(config):
            changed.append(layer.name)
        return layer.__class__.from_config(config)

    try:
        copy = keras.models.clone_model(model, clone_function=clone)
        copy.set_weights(model.get_weights())
    except Exception:
        return None
    return copy if changed else None


def _set_unroll(config):
    """Set every ``unroll`` in a (nested) layer config; whether there was one."""
    found = False
    if isinstance(config, dict):
        for key, value in config.items():
            if key == "unroll" and value is False:
                config[key] = True
                found = True
            else:
                found = _set_unroll(value) or found
    elif isinstance(config, list):
        for value in config:
            found = _set_unroll(value) or found
    return found
