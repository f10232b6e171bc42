"""The borrower's page: /p/<token> (short: it travels in text messages) and its identity check."""

from django.urls import path

from portal import views

urlpatterns = [
    path("<str:token>", views.portal_page, name="portal-page"),
    path("<str:token>/check", views.portal_check, name="portal-check"),
]
