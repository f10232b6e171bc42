"""The borrower's page: /p/<token> (short: it travels in text messages), its identity check and its payments;
an e-mail's unsubscribe link (/p/unsubscribe/<token>, before the page's pattern)."""

from django.urls import include, path

from portal import views

urlpatterns = [
    path("unsubscribe/<str:token>", views.email_unsubscribe_page, name="email-unsubscribe"),
    path("<str:token>", views.portal_page, name="portal-page"),
    path("<str:token>/check", views.portal_check, name="portal-check"),
    path("<str:token>/pay", views.portal_pay, name="portal-pay"),
    path("<str:token>/pay/<str:key>", views.portal_payment, name="portal-payment"),
    path("<str:token>/pay/<str:key>/card", views.portal_card, name="portal-card"),
    path("<str:token>/", include("portal.action_urls")),  # the borrower's actions (portal/actions.py)
]
