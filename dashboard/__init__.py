"""The operator dashboard: a Dash app over a :class:`~twin.live.LiveTwin`.

``dashboard.app.create_app(live)`` builds it and ``dashboard.app.serve(live)``
serves it; pages live in ``dashboard/pages`` and draw with the pure functions
of ``dashboard.figures``.
"""
