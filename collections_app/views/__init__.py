"""The pages collectors, managers and admins work in, one module per reader's task (thin: parse → selector or
service → render): ``home``, ``queue``, ``case_page`` and ``case_actions``, ``escalations``, ``reports``; what they
share is in ``common``. Routes: config/urls.py."""
