"""W-Net Annotator: nucleus centres by W-Net, masks by NuClick, GeoJSON for QuPath.

The package splits into a Qt-free core (``slides``, ``annotations``, ``detection``,
``models``, ``engine``, ``nuclick``, ``datasets``, ``training``) and ``gui`` which holds
only widgets. ``cli`` is a thin layer over the same engine.
"""

__version__ = "0.1.0"
