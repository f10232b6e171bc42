"""The SQL that seeds the benchmarks' books (no side effects on import, so a test can run it at a small size and
catch a new NOT NULL column the raw INSERTs do not fill before `make bench` does)."""

SWEEP_SEED = """
INSERT INTO loans_loanproduct (code, name, lender_name, currency, timezone, allocation_order, portal_factor,
    lender_address, lender_licences, created_at, updated_at)
VALUES ('bench', 'Bench loan', 'Bench Lender', 'USD', 'America/New_York', '["fee", "interest", "principal"]', 'none',
    '1 Bench Street, Boston, MA 02118', '{}', now(), now());

INSERT INTO loans_borrower (external_id, full_name, language, national_id_masked, national_id_hash, address_line1,
    address_line2, city, region, postal_code, country, timezone, time_zones, created_at, updated_at)
SELECT 'B' || g, 'Borrower ' || g, 'en', '', '', '', '', 'Boston', 'MA', '02118', 'US', '',
       '["America/New_York"]', now(), now()
FROM generate_series(1, %(n)s) g;

INSERT INTO loans_phonenumber (borrower_id, number, kind, sms_consent, autodial_consent, position, created_at, updated_at)
SELECT id, '+1617555' || lpad((id %% 10000)::text, 4, '0'), 'mobile', true, id %% 2 = 0, 0, now(), now()
FROM loans_borrower;

INSERT INTO loans_loan (external_id, borrower_id, product_id, principal, currency, annual_rate, term_months,
    disbursed_on, status, days_past_due, overdue_since, amount_overdue, outstanding_balance, credit_balance,
    balances_as_of, created_at, updated_at)
SELECT 'L' || b.id, b.id, (SELECT id FROM loans_loanproduct WHERE code = 'bench'), 1200, 'USD', 0, 6,
       %(as_of)s::date - 200 + (b.id %% 60)::int, 'active', 0, NULL, 0, 0, 0, NULL, now(), now()
FROM loans_borrower b;

-- Six monthly installments of 200.00. Loans whose id is a multiple of 10 stopped paying at some installment
-- (overdue at every depth); the others paid everything due so far, on time.
INSERT INTO loans_installment (loan_id, number, due_date, principal_due, interest_due, fee_due, opening_paid,
    principal_paid, interest_paid, fee_paid, frozen_fee, frozen_interest, paid_on)
SELECT l.id, k, l.disbursed_on + 30 * k,
       200, 0, 0, 0,
       CASE WHEN paid THEN 200 ELSE 0 END, 0, 0, 0, 0,
       CASE WHEN paid THEN l.disbursed_on + 30 * k END
FROM loans_loan l CROSS JOIN generate_series(1, 6) k
CROSS JOIN LATERAL (SELECT (l.disbursed_on + 30 * k < %(as_of)s::date)
                           AND NOT (l.id %% 10 = 0 AND k > (l.id / 10) %% 6) AS paid) p;
ANALYZE;
"""

DRY_RUN_SEED = """
INSERT INTO loans_loanproduct (code, name, lender_name, currency, timezone, allocation_order, portal_factor,
    lender_address, lender_licences, created_at, updated_at)
VALUES ('dryrun-bench', 'Dry-run bench loan', 'Bench Lender', 'USD', 'America/New_York',
        '["fee", "interest", "principal"]', 'none', '1 Bench Street, Boston, MA 02118', '{}', now(), now());

INSERT INTO loans_borrower (external_id, full_name, language, national_id_masked, national_id_hash, address_line1,
    address_line2, city, region, postal_code, country, timezone, time_zones, created_at, updated_at)
SELECT 'DRB' || g, 'Borrower ' || g, 'en', '', '', '', '', 'Boston', 'MA', '02118', 'US', '',
       '["America/New_York"]', now(), now()
FROM generate_series(1, %(n)s) g;

INSERT INTO loans_phonenumber (borrower_id, number, kind, sms_consent, autodial_consent, position, created_at, updated_at)
SELECT id, '+1617555' || lpad((id %% 10000)::text, 4, '0'), 'mobile', true, true, 0, now(), now()
FROM loans_borrower WHERE external_id LIKE 'DRB%%';

-- Half the loans overdue: the first installment is due 1 to 120 days before AS_OF and unpaid; the others current.
INSERT INTO loans_loan (external_id, borrower_id, product_id, principal, currency, annual_rate, term_months,
    disbursed_on, status, days_past_due, overdue_since, amount_overdue, outstanding_balance, credit_balance,
    balances_as_of, created_at, updated_at)
SELECT 'DRL' || b.id, b.id, (SELECT id FROM loans_loanproduct WHERE code = 'dryrun-bench'), 1200, 'USD', 0, 6,
       %(as_of)s::date - 150, 'active', 0, NULL, 0, 0, 0, NULL, now(), now()
FROM loans_borrower b WHERE b.external_id LIKE 'DRB%%';

INSERT INTO loans_installment (loan_id, number, due_date, principal_due, interest_due, fee_due, opening_paid,
    principal_paid, interest_paid, fee_paid, frozen_fee, frozen_interest, paid_on)
SELECT l.id, k, due, 200, 0, 0, 0, CASE WHEN paid THEN 200 ELSE 0 END, 0, 0, 0, 0, CASE WHEN paid THEN due END
FROM loans_loan l CROSS JOIN generate_series(1, 6) k
CROSS JOIN LATERAL (SELECT CASE WHEN l.id %% 2 = 0 THEN %(as_of)s::date - (1 + (l.id / 2) %% 120)::int + 30 * (k - 1)
                                ELSE %(as_of)s::date + 10 + 30 * (k - 1) END AS due) d
CROSS JOIN LATERAL (SELECT false AS paid) p
WHERE l.external_id LIKE 'DRL%%';
ANALYZE;
"""
