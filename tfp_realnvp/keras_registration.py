"""Keras finds this package's classes in saved models in any process that imported `tfp_realnvp`.

A `.keras` file names each of its objects by a registered name ("tfp_realnvp>RealNVPModel");
`keras.saving.load_model` finds the class in the registry that
`@keras.saving.register_keras_serializable` fills when the class's module runs. The package's
public names load on first use (so that `tfp-realnvp --help` answers without TensorFlow), so
those modules may not have run. `register()` runs them all: `tfp_realnvp.training` imports the
model, the flow, every bijector and network layer, and the optimizer.

`register_with_keras()`, called by `import tfp_realnvp`, registers at once if Keras is imported
already, and otherwise as soon as it is: when the outermost import of Keras, TensorFlow, TFP,
tf_keras or a module of this package ends (per thread) with Keras imported. Not earlier: those
packages import one another, and importing them while one is half-initialised fails.
"""

import importlib
import sys
import threading

# Packages whose import may import Keras; their submodules are not watched.
_WATCHED = frozenset({"keras", "tensorflow", "tensorflow_probability", "tf_keras"})
_registered = False


def register():
    """Imports every module that registers a class with Keras (once)."""
    global _registered
    if _registered:
        return
    _registered = True
    if _WATCHER in sys.meta_path:
        sys.meta_path.remove(_WATCHER)
    importlib.import_module("tfp_realnvp.training")


def register_with_keras():
    """`register()` now if Keras is imported, else once an import brings it in."""
    if "keras" in sys.modules:
        register()
    elif not _registered and _WATCHER not in sys.meta_path:
        sys.meta_path.insert(0, _WATCHER)


class _ImportWatcher:
    """A meta path finder that leaves finding to the others and wraps the loaders of watched
    modules, so as to call `register()` when the outermost such import ends with Keras in."""

    def __init__(self):
        self._thread = threading.local()

    def find_spec(self, name, path=None, target=None):
        if name not in _WATCHED and not name.startswith("tfp_realnvp."):
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _WatchedLoader(spec.loader, self)
                return spec
        return None

    def enter(self):
        self._thread.depth = getattr(self._thread, "depth", 0) + 1

    def leave(self):
        """True when the outermost watched import of this thread ends."""
        self._thread.depth -= 1
        return self._thread.depth == 0


class _WatchedLoader:
    """A module's own loader, telling the watcher when the module starts and ends running."""

    def __init__(self, loader, watcher):
        self.loader = loader
        self._watcher = watcher

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self.loader  # the module sees its own loader
        self._watcher.enter()
        try:
            self.loader.exec_module(module)
        finally:
            outermost = self._watcher.leave()
        if outermost and "keras" in sys.modules:
            register()

    def __getattr__(self, name):  # everything else: resources, source, ...
        return getattr(self.loader, name)


_WATCHER = _ImportWatcher()
