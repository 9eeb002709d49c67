// twilio-node's own validators on deliveries a receiver took (test_twilio_sdks_webhooks.py runs
// it): stdin is a JSON list of {token, signature, url, body, json}; a JSON body goes to
// validateRequestWithBody (the bodySHA256 scheme), a form's parameters to validateRequest.
// Prints the list of answers.
const { validateRequest, validateRequestWithBody } = require("twilio");

const input = require("fs").readFileSync(0, "utf8");
const answers = JSON.parse(input).map((d) => d.json
  ? validateRequestWithBody(d.token, d.signature, d.url, d.body)
  : validateRequest(d.token, d.signature, d.url, Object.fromEntries(new URLSearchParams(d.body))));
process.stdout.write(JSON.stringify(answers));
