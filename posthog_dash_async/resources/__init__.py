"""Resource classes: thin, typed, one per endpoint group."""

from .collaborators import Collaborators
from .dashboards import Dashboards
from .sharing import Sharing

__all__ = ["Collaborators", "Dashboards", "Sharing"]
