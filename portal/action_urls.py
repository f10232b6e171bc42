"""The borrower's actions from their page (``portal.actions``), under /p/<token>/: per loan (by the reference the page
shows) a promise, a plan, a dispute and a call back, each with its confirmation; the contact preferences."""

from django.urls import path

from portal import actions

urlpatterns = [
    path("loan/<str:reference>/promise", actions.promise, name="portal-promise"),
    path("loan/<str:reference>/promise/done", actions.promise_done, name="portal-promise-done"),
    path("loan/<str:reference>/plan", actions.plan, name="portal-plan"),
    path("loan/<str:reference>/plan/done", actions.plan_done, name="portal-plan-done"),
    path("loan/<str:reference>/dispute", actions.dispute, name="portal-dispute"),
    path("loan/<str:reference>/dispute/done", actions.dispute_done, name="portal-dispute-done"),
    path("loan/<str:reference>/callback", actions.callback, name="portal-callback"),
    path("loan/<str:reference>/callback/done", actions.callback_done, name="portal-callback-done"),
    path("preferences", actions.preferences, name="portal-preferences"),
    path("preferences/done", actions.preferences_done, name="portal-preferences-done"),
]
