"""Name -> constructor registry: `get_model("x3d_s", classes=10)`, `list_models()`."""

_MODELS = {}


def register_model(name):
    """Decorator registering a constructor under a lowercase `name`."""

    def decorator(builder):
        if name in _MODELS:
            raise ValueError(f"vidzoo.zoo: model name {name!r} is registered twice.")
        _MODELS[name] = builder
        return builder

    return decorator


def list_models():
    """Sorted registry names of every model in the zoo."""
    return sorted(_MODELS)


def get_model(name, **kwargs):
    """Build the registered model `name` with constructor `kwargs`."""
    key = str(name).lower()
    if key not in _MODELS:
        raise ValueError(
            f"vidzoo.zoo: unknown model {name!r}; registered models are: "
            f"{', '.join(list_models())}."
        )
    return _MODELS[key](**kwargs)

