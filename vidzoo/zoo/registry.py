"""The zoo's registry. Every model is a row of its family's variant table: a
`Variant` names the family builder and the arguments that make the model, the
reference definition it follows, that reference's parameter count and the
default input. `register_family` registers the rows and derives the adaptive
variants each row asks for (`ADAPTATIONS`: `<name>_atfr`, `<name>_clustering`)
by one rule, so no family writes its own.

    get_model("x3d_s_atfr", classes=10)
    list_models()
    variant("x3d_s").reference_params

Each registered model also has a Python constructor (`constructors()`), which
`vidzoo.zoo` exports: `vidzoo.zoo.X3D_S_ATFR(classes=10)`.
"""

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Optional

import keras


@dataclass(frozen=True)
class Adaptation:
    """An adaptive module put into a registered model by constructor arguments.

    Args:
      suffix: appended to the registry name ("_atfr").
      python_suffix: appended to the Python constructor's name ("_ATFR").
      arguments: constructor arguments that insert the module.
      description: what the derived model adds, for its docstring.
    """

    suffix: str
    python_suffix: str
    arguments: Mapping[str, Any]
    description: str


ADAPTATIONS = {
    "atfr": Adaptation("_atfr", "_ATFR", {"sgs": True},
                       "SimilarityGuidedSampling at the family's default stage (ATFR, seed 000)"),
    "clustering": Adaptation(
        "_clustering", "_Clustering",
        {"temporal_clustering": {"num_clusters": 8, "method": "cumulative"}},
        "cumulative temporal clustering into 8 clusters after res2 (seed 004; set "
        "`temporal_clustering=` for other methods and sizes)"),
}


@dataclass(frozen=True)
class Variant:
    """One registered model.

    Args:
      name: registry name ("r3d_18"), also the built model's default name.
      python_name: its constructor's name in `vidzoo.zoo` ("R3D_18").
      title: how papers write it ("R3D-18").
      builder: the family builder, called with `arguments`, `default_shape`
        and the caller's keyword arguments (which win).
      arguments: the constructor arguments that make this variant.
      reference: the definition it follows, for the docstring.
      default_input: (T, H, W, C) when the caller gives no input shape.
      reference_params: the reference's parameter count with 400 classes
        (BatchNorm moving statistics excluded), or None where none exists.
      adaptations: keys of `ADAPTATIONS` to derive and register.
      adaptation: on a derived variant, the key it was derived with.
      base: on a derived variant, the registry name it was derived from.
      notes: anything else the docstring should say.
    """

    name: str
    python_name: str
    title: str
    builder: Callable[..., Any]
    arguments: Mapping[str, Any]
    reference: str
    default_input: tuple
    reference_params: Optional[int] = None
    adaptations: tuple = ()
    adaptation: Optional[str] = None
    base: Optional[str] = None
    notes: str = ""

    def build(self, **kwargs) -> keras.Model:
        """The model, with `kwargs` overriding the variant's arguments."""
        options = dict(self.arguments, default_shape=self.default_input, name=self.name)
        options.update(kwargs)
        return self.builder(**options)

    def adapted(self, key: str) -> "Variant":
        """The variant with the adaptive module `ADAPTATIONS[key]`."""
        adaptation = ADAPTATIONS[key]
        return replace(self, name=self.name + adaptation.suffix,
                       python_name=self.python_name + adaptation.python_suffix,
                       title=f"{self.title} + {adaptation.description}",
                       arguments=dict(self.arguments, **adaptation.arguments),
                       reference_params=None, adaptations=(), adaptation=key, base=self.name)

    def docstring(self):
        frames, height, width, _ = self.default_input
        lines = [f"{self.title}. Reference: {self.reference}."]
        if self.reference_params is not None:
            lines.append(f"{self.reference_params:,} parameters with 400 classes "
                         "(Keras also counts BatchNorm moving statistics).")
        if self.notes:
            lines.append(self.notes)
        lines.append(f"Default input {frames}x{height}x{width}. Keyword arguments are the "
                     f"family builder's (`{self.builder.__module__}.{self.builder.__name__}`).")
        return "\n\n".join(lines)


_VARIANTS = {}
_CONSTRUCTORS = {}


def register(entry: Variant) -> Callable[..., keras.Model]:
    """Register one `Variant`; returns its constructor."""
    if entry.name in _VARIANTS:
        raise ValueError(f"vidzoo.zoo: model name {entry.name!r} is registered twice.")
    if entry.python_name in _CONSTRUCTORS:
        raise ValueError(f"vidzoo.zoo: Python name {entry.python_name!r} is used twice.")

    def constructor(**kwargs) -> keras.Model:
        return entry.build(**kwargs)

    constructor.__name__ = constructor.__qualname__ = entry.python_name
    constructor.__doc__ = entry.docstring()
    constructor.variant = entry
    _VARIANTS[entry.name] = entry
    _CONSTRUCTORS[entry.python_name] = constructor
    return constructor


def register_family(entries) -> None:
    """Register a family's variant table and the adaptive variants its rows name."""
    for entry in entries:
        register(entry)
        for key in entry.adaptations:
            register(entry.adapted(key))


def list_models() -> list:
    """Sorted registry names of every model in the zoo."""
    return sorted(_VARIANTS)


def variant(name: str) -> Variant:
    """The `Variant` registered as `name`."""
    key = str(name).lower()
    if key not in _VARIANTS:
        raise ValueError(
            f"vidzoo.zoo: unknown model {name!r}; registered models are: "
            f"{', '.join(list_models())}."
        )
    return _VARIANTS[key]


def constructors() -> dict:
    """Python name -> constructor of every registered model."""
    return dict(_CONSTRUCTORS)


def get_model(model_name: str, /, **kwargs) -> keras.Model:
    """Build the registered model `model_name` with constructor `kwargs`
    (`name=` among them names the built model)."""
    return variant(model_name).build(**kwargs)
