"""How the aligner's ``x_encoder``/``y_encoder`` parameters become torch modules.

An encoder parameter is ``"mlp"`` (the aligner's own MLP, built from
``hidden_layer_sizes`` and its siblings), a built-in name, an ``nn.Module``
subclass or an instance. Its constructor arguments are the estimator's
``x_encoder__<name>`` parameters (skorch's ``module__`` routing). At ``fit``
the parameter is resolved into an :class:`EncoderSpec`: a picklable recipe
(class and keyword arguments, or a copy of the instance) that the torch side
builds, and rebuilds when a fitted aligner is unpickled. No torch import here
except to resolve built-in names.
"""

import copy
import importlib
import inspect
import pickle

#: Built-in encoder names and their classes in ``skcrossmodal._torch.encoders``.
BUILTIN_ENCODERS = {
    "image_cnn": "ImageEncoder",
    "series_cnn": "SeriesEncoder",
    "token_bag": "TokenBagEncoder",
}
ENCODER_NAMES = frozenset({"mlp", *BUILTIN_ENCODERS})
VIEWS = ("x", "y")
#: Keyword arguments the aligner passes itself, when the class accepts them.
PASSED_BY_ALIGNER = ("in_features", "out_features")


def routed_prefix(view):
    return f"{view}_encoder__"


def is_routed(key):
    """Whether ``key`` is an ``x_encoder__``/``y_encoder__`` parameter."""
    return any(key.startswith(routed_prefix(view)) for view in VIEWS)


def routed_params(estimator, view):
    """The constructor arguments of ``view``'s encoder, names without prefix."""
    prefix = routed_prefix(view)
    return {
        key[len(prefix) :]: value
        for key, value in vars(estimator).items()
        if key.startswith(prefix)
    }


def encoder_class(value):
    """The ``nn.Module`` class an encoder parameter stands for (None for "mlp")."""
    if isinstance(value, str):
        if value == "mlp":
            return None
        from .._torch import encoders

        return getattr(encoders, BUILTIN_ENCODERS[value])
    return value if isinstance(value, type) else type(value)


def takes_integer_input(value):
    """Whether the encoder declares integer rows (class attribute ``integer_input``)."""
    cls = encoder_class(value)
    return cls is not None and bool(getattr(cls, "integer_input", False))


class EncoderSpec:
    """A picklable recipe of one view's encoder: a class and its arguments, or a copy.

    Parameters
    ----------
    cls : type
        The ``nn.Module`` subclass.
    kwargs : dict
        Keyword arguments of ``cls`` (``in_features``/``out_features``
        included when it accepts them); unused with a template.
    template : torch.nn.Module or None
        A copy of the instance the user passed, copied again by ``build``.
    """

    def __init__(self, cls, kwargs, template=None):
        self.cls = cls
        self.kwargs = kwargs
        self.template = template

    @property
    def integer_input(self):
        return bool(getattr(self.cls, "integer_input", False))

    def build(self):
        """A new module: a copy of the template, or the class constructed."""
        if self.template is not None:
            return copy.deepcopy(self.template)
        return self.cls(**self.kwargs)

    def describe(self):
        if self.template is not None:
            return f"an instance of {self.cls.__qualname__}"
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.cls.__qualname__}({arguments})"


def _accepts(cls, name):
    try:
        parameters = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def resolve_encoder(value, params, *, view, in_features, out_features):
    """The :class:`EncoderSpec` of one view's encoder parameter (None for "mlp").

    A class (or built-in name) gets ``in_features`` and ``out_features``
    when its constructor accepts them, plus ``params``; an instance is
    copied, so the fit never trains the user's object, and takes no
    ``params``.
    """
    import torch

    name = f"{view}_encoder"
    if isinstance(value, str) and value == "mlp":
        if params:
            raise ValueError(
                f"{name}='mlp' takes no {name}__ parameters (got "
                f"{sorted(params)}); the MLP is set by hidden_layer_sizes, "
                "activation, dropout and normalization."
            )
        return None
    if "" in params:
        raise ValueError(f"{name}__ needs a parameter name after the '__'.")
    cls = encoder_class(value)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise TypeError(
            f"{name} must be 'mlp', one of {sorted(BUILTIN_ENCODERS)}, a "
            f"torch.nn.Module subclass or an instance of one; got {value!r}."
        )
    if not isinstance(value, type | str):
        if params:
            raise ValueError(
                f"{name} is an instance of {cls.__qualname__}, which is used as it "
                f"is (copied for each fit); {name}__ parameters (got "
                f"{sorted(params)}) apply only when {name} is a class or a name. "
                f"Pass the class, {name}={cls.__qualname__}, to construct it with "
                "them."
            )
        return EncoderSpec(cls, {}, template=copy.deepcopy(value))
    passed = [key for key in PASSED_BY_ALIGNER if key in params]
    if passed:
        raise ValueError(
            f"{name}__{passed[0]} is set by the aligner (in_features is the "
            "number of columns of the view, out_features is n_components); "
            f"remove {name}__{passed[0]}."
        )
    kwargs = {}
    if _accepts(cls, "in_features"):
        kwargs["in_features"] = in_features
    if _accepts(cls, "out_features"):
        kwargs["out_features"] = out_features
    return EncoderSpec(cls, {**kwargs, **params})


def _importable(cls):
    """Whether pickle can find ``cls`` again by its module and qualified name."""
    try:
        found = importlib.import_module(cls.__module__)
        for part in cls.__qualname__.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return False
    return found is cls


def check_picklable(value, name):
    """Raise a PicklingError saying what to do if ``value``'s class is not importable.

    pickle stores classes by import path: a class defined inside a function
    (``<locals>`` in its qualified name) cannot be found again on loading.
    """
    classes = []
    if isinstance(value, EncoderSpec):
        classes.append(value.cls)
        value = value.template
    if isinstance(value, type):
        classes.append(value)
    elif value is not None and not isinstance(value, str):
        modules = value.modules() if hasattr(value, "modules") else [value]
        classes.extend(type(module) for module in modules)
    for cls in classes:
        if not _importable(cls):
            raise pickle.PicklingError(
                f"Cannot pickle this ContrastiveAligner: its {name} uses the class "
                f"{cls.__module__}.{cls.__qualname__}, which pickle cannot import "
                "again (it is defined inside a function, or renamed). Define the "
                "class at the top level of a module that can be imported where "
                "the pickle is loaded, then fit again."
            )
