"""The one small interface every scoring method implements, and the registry that names them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch

from headrouter.engine.selection import top_k_audio
from headrouter.methods.diversity import check_diversity, diverse_top_k
from headrouter.methods.smoothing import check_cutoff, smooth_scores

if TYPE_CHECKING:
    from headrouter.methods.headrouter.table import HeadTable

TOP_K_SETTINGS = ("smooth", "diversity")
"""The settings every method takes that change how the top-k of its scores is taken (:class:`ScoringMethod`)."""


@dataclass
class ScoringContext:
    """What the engine knows about a batch when layer K is reached during prefill.

    Shapes use ``B`` batch, ``L`` sequence, ``H`` query heads, ``Q`` query tokens, ``D`` hidden size.
    """

    audio_mask: torch.Tensor
    """``(B, L)`` bool: the audio placeholder positions."""
    attention_mask: torch.Tensor
    """``(B, L)`` bool: real (non-padding) tokens."""
    hidden_states: torch.Tensor
    """``(B, L, D)``: the input of layer K."""
    layer: int
    """K, the first pruned layer; attention comes from layer K-1."""
    query_index: torch.Tensor | None = None
    """``(B, Q)`` long: positions of the query tokens whose attention was captured (None if not requested)."""
    query_mask: torch.Tensor | None = None
    """``(B, Q)`` bool: which query slots are real (rows have different numbers of query tokens)."""
    attention: torch.Tensor | None = None
    """``(B, H, Q, L)`` float32: softmax attention of each query token to every key at layer K-1, per head."""
    layer_attention: dict[int, torch.Tensor] = field(default_factory=dict)
    """The same rows at every layer the method asked for (:attr:`ScoringMethod.capture_layers`: K-n..K-1), by
    layer index; layer K-1's is ``attention``. Empty where nothing was captured."""
    details: list[dict] = field(default_factory=list)
    """Per sample, anything the method wants in the router's records (e.g. a task mixture)."""
    project_keys: Callable[[torch.Tensor], torch.Tensor] | None = None
    """Layer K's keys before rotary of hidden states ``(..., D)`` (its input norm, then its key projection); None
    where the model's layer K has no such modules."""

    @property
    def last_query(self) -> torch.Tensor:
        """``(B,)`` index into the Q axis of each row's last real query token (its last prompt token)."""
        q = self.query_mask.shape[-1]
        return q - 1 - self.query_mask.flip(-1).long().argmax(-1)


class _TopKSetting:
    """A setting of every method that changes how the top-k of its scores is taken (``smooth``, ``diversity``): a data
    descriptor, so that it is checked on every assignment, ``dataclasses.replace`` included. None (off) by default;
    only a method whose choice is the top-k of its :meth:`~ScoringMethod.score` takes another value."""

    def __init__(self, check: Callable[[object], float | None], inner_hint: bool) -> None:
        self.check = check
        self.inner_hint = inner_hint

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, method: ScoringMethod | None, owner: type | None = None) -> float | None:
        return None if method is None else method.__dict__.get(f"_{self.name}")

    def __set__(self, method: ScoringMethod, value: float | None) -> None:
        value = self.check(value)
        cls = type(method)
        if value is not None and (cls.score is ScoringMethod.score or cls.select is not ScoringMethod.select):
            hint = ""
            if self.inner_hint and hasattr(cls, "inner"):
                hint = f" (give it to its inner method, e.g. inner=fastv[{self.name}=0.25])"
            raise ValueError(
                f"{self.name} applies to methods that keep the top-k of their token scores; {cls.name!r} selects its "
                f"tokens otherwise{hint}"
            )
        method.__dict__[f"_{self.name}"] = value


@dataclass(eq=False, repr=False)
class ScoringMethod:
    """Turns a :class:`ScoringContext` into a choice of audio tokens.

    Implement :meth:`score` (higher = keep; the engine keeps the top ``ceil(keep_ratio * n)`` audio tokens
    per sample) or, for structured choices such as even strides, override :meth:`select`. Set
    ``queries`` to ask the engine for attention rows: ``"last"`` (the last prompt token), ``"after_audio"``
    (every text token after the last audio token), or None when the method needs no attention — then
    nothing is captured at all. ``capture_layers`` (n, default 1) says from how many layers below K: the rows of
    layers K-n..K-1 arrive in ``ctx.layer_attention``, layer K-1's also in ``ctx.attention``.

    A method's settings are its dataclass fields (:meth:`settings`); :meth:`config` and ``repr`` are derived from
    them, so a method writes neither by hand. Every method also takes the keywords ``smooth`` (:mod:`.smoothing`:
    the scores low-passed along time before the top-k) and ``diversity`` (:mod:`.diversity`: the top-k taken greedily,
    each pick discounted by its likeness to those before it), None (off) by default, listed in its settings only when
    on.
    """

    _: KW_ONLY
    smooth: float | None = _TopKSetting(check_cutoff, inner_hint=True)
    diversity: float | None = _TopKSetting(check_diversity, inner_hint=False)

    name: ClassVar[str] = ""
    queries: ClassVar[Literal["last", "after_audio"] | None] = None
    capture_layers: ClassVar[int] = 1
    uses_table: ClassVar[bool] = False
    """True for a method that uses a calibrated head table when given one (:meth:`with_table`); evaluation hands
    its ``table`` to every such method."""
    reports: ClassVar[tuple[str, ...]] = ()
    """The keys this method may write into each sample's record ``details`` (e.g. ``"task_mixture"``)."""

    def score(self, ctx: ScoringContext) -> torch.Tensor:
        """``(B, L)`` importance of each token; only audio positions are read."""
        raise NotImplementedError(f"{type(self).__name__} must implement score() or select()")

    def bind(self, adapter, prune_layer: int) -> None:
        """Check the method fits the model (called at wrap time, before any model work); raise ``ValueError`` if not.
        Keep no state from it: one method object may serve several models."""

    def select(self, ctx: ScoringContext, counts: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` bool keep mask with every non-audio token and exactly ``counts[b]`` audio tokens in row b."""
        scores = self.smoothed_score(ctx)
        finite = torch.isfinite(scores) | ~ctx.audio_mask
        if not bool(finite.all()):
            raise RuntimeError(f"method {self.name!r} produced non-finite scores for audio tokens")
        if self.diversity is None:
            return top_k_audio(scores, ctx.audio_mask, counts)
        return diverse_top_k(scores, ctx.audio_mask, counts, ctx.hidden_states, self.diversity)

    def smoothed_score(self, ctx: ScoringContext) -> torch.Tensor:
        """:meth:`score`, low-passed along time where ``smooth`` is on (:func:`.smoothing.smooth_scores`): the scores
        a selection ranks, here and in methods that rank another method's scores (``segment``)."""
        return smooth_scores(self.score(ctx), ctx.audio_mask, self.smooth)

    def with_table(self, table: HeadTable) -> ScoringMethod:
        """A copy of this method that uses the head ``table``; only for methods with ``uses_table``."""
        raise TypeError(f"method {self.name!r} uses no head table")

    def settings(self) -> dict[str, Any]:
        """The settings as held, by name: every init field of a dataclass method, in order (none for other
        methods), then ``smooth`` and ``diversity`` where they are on. ``get_method(self.name, **self.settings())``
        makes an equal method."""
        if not is_dataclass(self):
            return {}
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.init and f.name not in TOP_K_SETTINGS}
        return own | {name: getattr(self, name) for name in TOP_K_SETTINGS if getattr(self, name) is not None}

    def config(self) -> dict:
        """``name`` and the settings as plain data (:func:`config_value`: a nested method as its own config, a head
        table as its directory), for records and serialization; ``ValueError`` for a setting with no such form (a
        head table held only in memory). :func:`method_from_config` makes the method again."""
        return {"name": self.name, **settings_data(self.name, self.settings())}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


def config_value(value: Any) -> Any:
    """One setting as plain data: a method gives its :meth:`~ScoringMethod.config`, an object with ``to_config()``
    (a :class:`~headrouter.HeadTable`: its directory) what that returns, a path its string, a tuple a list; None,
    bools, numbers, strings, and lists and string-keyed dicts of them are themselves. ``ValueError`` for anything
    else: a config holds data, not objects."""
    if isinstance(value, ScoringMethod):
        return value.config()
    if hasattr(value, "to_config"):
        return value.to_config()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [config_value(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: config_value(v) for k, v in value.items()}
    raise ValueError(f"a {type(value).__name__} cannot be written as data")


def settings_data(method: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` of the method named ``method`` as plain data (:func:`config_value`); the ``ValueError`` of a
    setting that has no such form names the method and the setting."""
    data = {}
    for key, value in settings.items():
        try:
            data[key] = config_value(value)
        except ValueError as error:
            raise ValueError(f"method {method!r}, setting {key!r}: {error}") from None
    return data


_REGISTRY: dict[str, type[ScoringMethod]] = {}


def register_method(cls: type[ScoringMethod]) -> type[ScoringMethod]:
    """Class decorator: make a method available by its ``name`` in ``wrap(..., method=name)``.

    A name belongs to one class: registering another class under a taken name (a built-in one included) is a
    ``ValueError``, so that no method silently replaces another. Registering the same class again is a no-op (a
    class of the same module and qualified name counts as the same, so reloading its module works).
    """
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a non-empty class attribute `name` to be registered")
    taken = _REGISTRY.get(cls.name)
    if taken is not None and _qualified(taken) != _qualified(cls):
        raise ValueError(
            f"method name {cls.name!r} is already registered by {_qualified(taken)}; "
            f"give {_qualified(cls)} another `name`"
        )
    _REGISTRY[cls.name] = cls
    return cls


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def available_methods() -> list[str]:
    """Names accepted by ``wrap(..., method=...)``."""
    return sorted(_REGISTRY)


def get_method(method: str | ScoringMethod, **kwargs) -> ScoringMethod:
    """Resolve a method name or spec (``"headrouter[diversity=0.95]"``, :func:`parse_spec`), with its keyword
    settings, or pass a method object through. A setting given both in the spec and as a keyword is a ``TypeError``."""
    if isinstance(method, ScoringMethod):
        if kwargs:
            raise TypeError(f"method settings {sorted(kwargs)} can only be given with a method name, not an object")
        return method
    if not isinstance(method, str):
        raise TypeError(f"method must be a name, a spec or a ScoringMethod, got {type(method).__name__}")
    spec = method
    method, written = parse_spec(spec)
    twice = sorted(set(written) & set(kwargs))
    if twice:
        raise TypeError(f"setting(s) {', '.join(twice)} given both in the method spec {spec!r} and as keywords")
    kwargs = written | kwargs
    if method not in _REGISTRY:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(available_methods())}")
    cls = _REGISTRY[method]
    settings = _setting_names(cls)
    unknown = sorted(set(kwargs) - set(settings) - set(TOP_K_SETTINGS)) if settings is not None else []
    if unknown:
        takes = f"{method} takes: {', '.join(settings)}" if settings else f"{method} takes no settings"
        raise TypeError(f"unknown setting(s) {', '.join(unknown)} for method {method!r}; {takes}")
    return cls(**kwargs)


def method_from_config(config: Mapping[str, Any]) -> ScoringMethod:
    """The method a :meth:`ScoringMethod.config` describes: ``get_method(config["name"], **the other entries)``."""
    if not isinstance(config, Mapping) or not isinstance(config.get("name"), str):
        raise TypeError(f"a method config must be a dict with a 'name', got {config!r}")
    settings = {k: v for k, v in config.items() if k != "name"}
    return get_method(config["name"], **settings)


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``(name, settings)`` of a method written as text, as ``headrouter eval --methods`` takes it: ``name`` or
    ``name[key=value,...]``. A value is None (``none``), a bool (``true``/``false``), an int, a float or else a
    string, which may be a method spec itself (``segment[inner=headrouter[smooth=0.25]]``); a bare ``key`` means
    ``key=true``. ``ValueError`` naming the spec for text of another form."""
    if not isinstance(spec, str):
        raise TypeError(f"a method spec must be a str, got {type(spec).__name__} {spec!r}")
    text = spec.strip()
    name, bracket, rest = text.partition("[")
    name = name.strip()
    if not name or (bracket and not rest.endswith("]")) or (not bracket and "]" in text):
        raise ValueError(f"method spec {spec!r}: expected NAME or NAME[KEY=VALUE,...]")
    settings: dict[str, Any] = {}
    for part in _top_level_parts(rest[:-1], spec) if bracket else []:
        key, equals, value = (x.strip() for x in part.partition("="))
        if not key.isidentifier() or (equals and not value):
            raise ValueError(f"method spec {spec!r}: {part.strip()!r} is not KEY=VALUE or a bare KEY")
        if key in settings:
            raise ValueError(f"method spec {spec!r}: {key!r} is given twice")
        settings[key] = _spec_value(value) if equals else True
    return name, settings


def split_specs(text: str) -> list[str]:
    """Comma-separated method specs (:func:`parse_spec`) split at the commas outside brackets, each stripped:
    ``"fastv,segment[inner=headrouter,segments=4]"`` is two specs."""
    return [part.strip() for part in _top_level_parts(text, text)]


def _top_level_parts(text: str, spec: str) -> list[str]:
    """``text`` split at the commas outside brackets; ``ValueError`` for unbalanced brackets or an empty part."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char == "[") - (char == "]")
        if depth < 0:
            break
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    if depth != 0 or not all(p.strip() for p in parts):
        raise ValueError(f"method spec {spec!r}: unbalanced brackets or an empty setting")
    return parts


def _spec_value(text: str) -> Any:
    """A spec's value as None, a bool, an int, a float or (else) the string itself."""
    words = {"none": None, "true": True, "false": False}
    if text.lower() in words:
        return words[text.lower()]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _setting_names(cls: type[ScoringMethod]) -> list[str] | None:
    """The keyword settings a method class takes (a dataclass method's init fields), in order, less ``smooth`` and
    ``diversity``, which every method takes; None if it takes any keyword (``**kwargs``)."""
    parameters = inspect.signature(cls).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in parameters if p.kind in kinds and p.name not in TOP_K_SETTINGS]
