"""The REST API (/api/v1/): the HTTP surface over every app, on top of them all. One module per resource family —
cases (with what happens under a case), compliance (checks, restrictions, contacts), loans (borrowers, loans,
payments, bulk intake), messages, sweeps — each a thin view: parse → access helper or selector → service →
serialize. Routes: ``api/urls.py``. Shared pieces: ``api/base.py``, and ``core.api`` for the input base class and
the role permission the apps' own serializers use too."""
