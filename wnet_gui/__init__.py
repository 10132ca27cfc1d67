"""W-Net Annotator: nucleus centres by W-Net, masks by NuClick, GeoJSON for QuPath.

The package is built in floors (README, Layout): a Qt-free core — ``settings`` and
``geometry``; ``slides``, ``detection``, ``models``, ``datasets``; ``annotations``; ``engine``,
``evaluation``, ``training``, ``nuclick``, ``classify``, ``cohort``; ``projects``,
``adaptation`` — and on top ``gui``, which holds only widgets, and ``cli``, a thin layer over
the same engine. A module imports only its own floor or those below.
"""

__version__ = "0.1.0"
