"""NuClick (Koohbanani et al. 2020): a nucleus mask from a click.

``network`` holds the architecture, ``patches`` builds its 5-channel input, ``postprocess``
turns its output into one clean polygon, ``engine`` runs it over many points of a slide.
"""
