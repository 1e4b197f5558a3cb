#!/usr/bin/env bash
# Writes a few seed inputs into corpus/<target>/ (git-ignored). Run from shared/fuzz.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/verify_headers corpus/normalise_envelope corpus/signing_secret

# normalise_envelope: one selector byte (bits 0-1 message id, bits 2-3 header timestamp), then the body.
seed() { printf "\\x$1%s" "$3" > "corpus/normalise_envelope/$2"; }
seed 01 whop_v1 '{"id":"msg_1","api_version":"v1","type":"membership.activated","timestamp":"2026-03-01T11:59:58.000Z","company_id":"biz_1","data":{"id":"mem_1","user":{"id":"user_1"},"product":"prod_1","plan":{"id":"plan_1"}}}'
seed 00 whop_v5 '{"action":"membership.went_valid","api_version":"v5","company":"biz_1","data":{"id":"mem_1","user_id":"user_1","payment_id":"pay_1"}}'
seed 05 whop_app '{"type":"app_payment.succeeded","created_at":1772366398123,"data":{"id":"pay_1","membership":{"id":"mem_1"}}}'
seed 00 stripe_invoice '{"id":"evt_1","object":"event","type":"invoice.payment_failed","created":1772366398,"data":{"object":{"id":"in_1","object":"invoice","customer":"cus_1","subscription":null,"parent":{"subscription_details":{"subscription":"sub_1"}}}}}'
seed 00 stripe_dispute '{"id":"evt_2","type":"charge.dispute.created","created":1772366398.5,"data":{"object":{"id":"dp_1","charge":{"id":"ch_1"},"payment_intent":"pi_1"}}}'
seed 01 standard '{"type":"subscription.canceled","timestamp":"2026-03-01T11:59:58","data":{"id":"sub_1","note":"\u00e9\ufffe\"x\\"}}'
seed 09 standard_ms '{"type":"invoice.paid","timestamp":"1772366398000.25","data":{"id":"inv_1"},"extra":[1,-2.5e3,true,null,{}]}'

# signing_secret: the secret string, as is.
printf '%s' 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' > corpus/signing_secret/whsec
printf '%s' 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD==' > corpus/signing_secret/whsec_padded
printf '%s' 'ws_0123456789abcdef' > corpus/signing_secret/whop_ws
printf '%s' 'whsec_test_secret' > corpus/signing_secret/stripe
printf '%s' 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' > corpus/signing_secret/bare_base64

# verify_headers: the input is `arbitrary`-structured; a few random starts are enough.
for n in 1 2 3 4; do head -c 256 /dev/urandom > "corpus/verify_headers/random$n"; done
