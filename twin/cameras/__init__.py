"""Virtual cameras: ANPR, speed (point and section), red light and CCTV, driven by the engine.

See :mod:`.virtual` for what each camera type publishes, :mod:`.plate_reading` for
read errors, :mod:`.cctv` for the video analytics and :mod:`.placement` for the checks
against the network. The plates come from :class:`twin.vehicles.Fleet`.
"""

from __future__ import annotations

from .placement import camera_problems, section_length_m
from .virtual import RED_LIGHT_LOOP_M, VirtualCameras

__all__ = ["RED_LIGHT_LOOP_M", "VirtualCameras", "camera_problems", "section_length_m"]
