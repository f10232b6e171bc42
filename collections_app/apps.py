from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CollectionsAppConfig(AppConfig):
    """Collection cases, policies, work queues and the daily sweep."""

    name = "collections_app"
    verbose_name = _("Collections")

    def ready(self) -> None:
        from collections_app.services import message_cancel_reason, message_covered_debts
        from collections_app.services.disputes import dispute_verification_mailed
        from collections_app.sweep.paid import loans_settle_paid
        from loans.payments import payment_settler_register
        from notifications.planning import case_check_register, covered_debts_register, mailed_register

        # Dispatch asks at send time whether a message still fits its case; this app knows what a case's state means.
        case_check_register(message_cancel_reason)
        # And which loans a borrower-wide reminder covers: the borrower's cases still on the ladder.
        covered_debts_register(message_covered_debts)
        # And what money paid online changes at once: the loan's case refreshed, resolved when cured.
        payment_settler_register(loans_settle_paid)
        # And when a verification letter is mailed: its dispute's hold lifts by itself (DSP-01).
        mailed_register(dispute_verification_mailed)
