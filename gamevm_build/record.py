"""Value classes for the modules every ``gamevm module`` process imports, without dataclasses.

Importing :mod:`dataclasses` (it imports inspect, and with it ast, dis and tokenize) and
having it write and compile the methods of each class cost every such process about 100 M
instructions, 40% of its start-up (issue 16).  A :class:`Record` subclass declares its
fields the same way (annotations, a class attribute as the default, :class:`Factory` for a
fresh list or dict per instance) and gets what those classes used of a dataclass: keyword
or positional construction, ``==`` over the fields, a ``repr``, :meth:`Record.replace`
(for ``dataclasses.replace``), and with ``frozen=True`` read-only fields and a hash.  The
methods are generic (one loop over the fields), so a class built tens of thousands of
times per link writes its own ``__init__`` (``elf32.Symbol``).
"""

from __future__ import annotations


class Factory:
    """The default of a field that each instance gets a fresh one of (``Factory(list)``)."""

    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make


class Record:
    """Base of a value class: see the module's docstring.

    A field whose name starts with ``_`` is left out of the ``repr``; names listed in the
    class attribute ``_uncompared`` are left out of ``==`` and the hash.
    """

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults: dict = {}
    _compared: tuple[str, ...] = ()
    _uncompared: tuple[str, ...] = ()
    _frozen = False

    def __init_subclass__(cls, frozen: bool = False, **kwargs):
        super().__init_subclass__(**kwargs)
        own = [n for n in cls.__dict__.get("__annotations__", {}) if n not in cls._fields]
        cls._fields = cls._fields + tuple(own)
        defaults = dict(cls._defaults)
        for name in own:
            if name in cls.__dict__ and not isinstance(cls.__dict__[name], _SLOT):
                defaults[name] = cls.__dict__[name]
        cls._defaults = defaults
        cls._compared = tuple(f for f in cls._fields if f not in cls._uncompared)
        if frozen:
            cls._frozen = True
        if cls._frozen:
            cls.__hash__ = Record._hash
            cls.__setattr__ = Record._refuse_set
            cls.__delattr__ = Record._refuse_delete

    def __init__(self, *args, **kwargs):
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__}() takes {len(fields)} arguments, "
                            f"{len(args)} given")
        values = dict(zip(fields, args))
        for name, value in kwargs.items():
            if name not in fields:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword "
                                f"argument '{name}'")
            if name in values:
                raise TypeError(f"{type(self).__name__}() got multiple values for "
                                f"argument '{name}'")
            values[name] = value
        setter = object.__setattr__
        for name in fields:
            if name in values:
                value = values[name]
            elif name in self._defaults:
                value = self._defaults[name]
                if type(value) is Factory:
                    value = value.make()
            else:
                raise TypeError(f"{type(self).__name__}() missing required argument "
                                f"'{name}'")
            setter(self, name, value)

    def _refuse_set(self, name, value):
        raise AttributeError(f"cannot assign to field '{name}' of a frozen "
                             f"{type(self).__name__}")

    def _refuse_delete(self, name):
        raise AttributeError(f"cannot delete field '{name}' of a frozen "
                             f"{type(self).__name__}")

    def _values(self) -> tuple:
        return tuple(getattr(self, f) for f in self._compared)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None            # as a dataclass: only a frozen record is hashable

    def _hash(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields
                          if not f.startswith("_"))
        return f"{type(self).__qualname__}({shown})"

    def replace(self, **changes):
        """A copy with ``changes`` (what ``dataclasses.replace`` did), built by ``__init__``."""
        return type(self)(**{f: getattr(self, f) for f in self._fields} | changes)


#: the type of the descriptors ``__slots__`` makes (a slotted class's fields)
_SLOT = type(Factory.make)
