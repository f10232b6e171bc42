import io

from django.core.management import call_command

from collections_app.models import CaseState


def test_graph_transitions_draws_every_state_of_the_case_machine():
    out = io.StringIO()
    call_command("graph_transitions", "collections_app.CollectionCase", stdout=out)
    dot = out.getvalue()
    assert dot.startswith("digraph")
    for state in CaseState.values:
        assert f"state.{state}" in dot
    assert "approve_legal" in dot and "promise_broken" in dot
