"""The edge of Kota Twin: every inbound protocol enters here.

Adapters (MQTT devices, camera HTTP push, FIWARE NGSI-LD, file replay) turn
their transport's payloads into :class:`twin.observations.Observation` records
and publish them on the twin's bus; they hold no business rules. This package
may import ``twin``; nothing in ``twin`` imports it.
"""
