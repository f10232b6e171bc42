"""Collection cases: policies, the state machine, work queues, the daily sweep and the pages collectors and managers
work in."""
