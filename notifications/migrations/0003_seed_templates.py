"""Sensible default texts for every reminder, in English and Simplified Chinese (admins edit them in the admin)."""

from django.db import migrations

OPT_OUT = {"en": " Reply STOP to opt out.", "zh-hans": "回复TD退订"}
TEXTS = {
    "pre_due": {
        "en": "{lender}: hi {name}, your installment of {amount_due} is due on {due_date}. Pay at {pay_link}.",
        "zh-hans": "【{lender}】{name}您好，您的本期应还款 {amount_due} 将于 {due_date} 到期，请通过 {pay_link} 按时还款。",
    },
    "reminder": {
        "en": "{lender}: {name}, your payment of {amount_due} (loan {reference}) is overdue. Pay at {pay_link} "
        "or call {help_phone}.",
        "zh-hans": "【{lender}】{name}您好，您的借款（{reference}）已逾期，应还金额 {amount_due}。请通过 {pay_link} "
        "还款，或致电 {help_phone}。",
    },
    "formal_notice": {
        "en": "{lender}: {name}, this is a formal notice that {amount_due} on loan {reference} remains unpaid. "
        "Please pay at {pay_link} or call {help_phone} to agree a plan.",
        "zh-hans": "【{lender}】{name}您好，正式通知：您的借款（{reference}）仍有 {amount_due} 未还。请通过 {pay_link} "
        "还款，或致电 {help_phone} 协商还款计划。",
    },
    "legal": {
        "en": "{lender}: {name}, your account {reference} with {amount_due} overdue has been referred to our legal "
        "team. Call {help_phone} to discuss it.",
        "zh-hans": "【{lender}】{name}您好，您的账户（{reference}）逾期 {amount_due}，已转交我司法务部门处理。"
        "如需沟通请致电 {help_phone}。",
    },
    "promise_reminder": {
        "en": "{lender}: {name}, a reminder of the payment you promised for loan {reference}. Pay at {pay_link}.",
        "zh-hans": "【{lender}】{name}您好，提醒您按承诺为借款（{reference}）还款，还款地址：{pay_link}。",
    },
    "plan_reminder": {
        "en": "{lender}: {name}, your payment plan installment for loan {reference} is due tomorrow. "
        "Pay at {pay_link}.",
        "zh-hans": "【{lender}】{name}您好，您的还款计划（借款 {reference}）明日到期，请通过 {pay_link} 还款。",
    },
    "opt_out_confirmation": {
        "en": "{lender}: you will get no more text messages from us. Reply START to opt back in.",
        "zh-hans": "【{lender}】您已退订短信，回复START可重新订阅。",
    },
}
VOICE_SUFFIX = {"en": " Goodbye.", "zh-hans": "再见。"}


def seed(apps, schema_editor):
    MessageTemplate = apps.get_model("notifications", "MessageTemplate")
    rows = []
    for purpose, texts in TEXTS.items():
        for language, text in texts.items():
            sms = text if purpose == "opt_out_confirmation" else text + OPT_OUT[language]
            rows.append(MessageTemplate(purpose=purpose, channel="sms", language=language, body=sms))
            if purpose != "opt_out_confirmation":
                spoken = text.replace(" at {pay_link}", " online").replace("请通过 {pay_link} ", "请").replace(
                    "还款地址：{pay_link}。", "请尽快还款。"
                )
                rows.append(
                    MessageTemplate(purpose=purpose, channel="voice", language=language, body=spoken + VOICE_SUFFIX[language])
                )
            if purpose in ("reminder", "formal_notice", "legal"):
                subject = {"en": "Your loan {reference}", "zh-hans": "关于您的借款 {reference}"}[language]
                rows.append(
                    MessageTemplate(
                        purpose=purpose, channel="email", language=language, subject=subject, body=text + OPT_OUT[language]
                    )
                )
            if purpose in ("formal_notice", "legal"):
                rows.append(
                    MessageTemplate(
                        purpose=purpose, channel="letter", language=language, subject=subject, body=text
                    )
                )
    for row in rows:
        if not MessageTemplate.objects.filter(
            purpose=row.purpose, channel=row.channel, language=row.language, is_active=True
        ).exists():
            row.save()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_dispatch")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
