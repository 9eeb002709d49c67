// A test double of Twilio's Verify quickstart for Express (TwilioDevEd/verify-v2-quickstart-node,
// MIT), run by tests/integration/test_twilio_quickstarts.py. Not the app: its code stays in its
// repository (this repository commits no third-party code, CI cannot fetch from GitHub, and
// Express is not among .deps' modules). This is our own code, on Node's http module, making the
// SDK calls the quickstart makes, with its parameters, in its order, on its user actions, and
// answering the user as it does (its redirects, its verify page, and its `res.status(500).send(e)`,
// which Express sends as the error's JSON). Each call cites the line it follows, at
//
//   https://github.com/TwilioDevEd/verify-v2-quickstart-node/blob/708f358af8959ec728cf346edba79793610b6b32/
//
// The one change a team makes to move the app here is the base URL (docs/twilio-verify.md):
// `twilio.verify.baseUrl`, from VERIFY_BASE_URL. The credentials are the quickstart's own
// (.env.example): TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (this service's auth token), and
// VERIFICATION_SID, the Service. Listens on PORT; logs as the app's logger.debug does (one JSON
// line per object here, where tracer prints it inspected), on stdout.
const http = require("http");
const crypto = require("crypto");
const { URLSearchParams } = require("url");

const { TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, VERIFICATION_SID, VERIFY_BASE_URL, PORT } = process.env;
// routes/verify.js:4 `require('twilio')(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)`
const twilio = require("twilio")(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN);
twilio.verify.baseUrl = VERIFY_BASE_URL; // the one line added

const logger = { debug: (obj) => console.log(JSON.stringify(obj)), error: (e) => console.log(JSON.stringify({ error: e })) };

// models/user.js:4-25 (username unique; the number is not), in memory where the app has sqlite.
const users = [];
// cookie-session (app.js:63-65) keeps passport's user id in a cookie; here a cookie names it.
const sessions = new Map();

const ROLE = "access secret content"; // userRoles.js:12-17

function page(res, status, title, body) {
  res.writeHead(status, { "Content-Type": "text/html; charset=utf-8" });
  res.end(`<!DOCTYPE html><title>${title} - Twilio Verify</title><h1>${title}</h1>${body}`);
}

function redirect(res, location) { // Express's res.redirect: 302 Found
  res.writeHead(302, { Location: location });
  res.end();
}

function sendError(res, e) { // `res.status(500).send(e)`: Express's res.send of an object is res.json
  res.writeHead(500, { "Content-Type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(e));
}

// views/verify.pug:9-24. Its message is under `if errors.verificaitonCode` (line 21, so spelt):
// the route's errors.verificationCode is never shown, only the form's was-validated class.
function renderVerify(res, errors) {
  const cls = errors.wasValidated ? ' class="needs-validation was-validated"' : ' class="needs-validation"';
  page(res, 200, "Verify", `<form id="verify-form" method="post"${cls}><input name="verificationCode" `
    + 'id="verificationCode"><button type="submit">Verify</button></form>');
}

const routes = {
  // routes/register.js:9-14
  "GET /register": async (req, res) => (req.user ? redirect(res, "/") : page(res, 200, "Register",
    '<form id="register-form" method="post"><input name="username"><input name="password">'
    + '<input name="confirmPassword"><input name="phoneNumber"><input type="hidden" name="fullPhone">'
    + '<input type="radio" name="verificationMethod" value="sms" checked>'
    + '<input type="radio" name="verificationMethod" value="call"><button>Sign Up</button></form>')),

  // routes/register.js:16-61 (the fullPhone of intl-tel-input's hidden input, client/index.js:11)
  "POST /register": async (req, res) => {
    const { username, password, confirmPassword, fullPhone: phoneNumber, verificationMethod } = req.body;
    const errors = {};
    if (users.some((u) => u.username === username)) errors.username = "Username already exists.";
    if (password !== confirmPassword) errors.confirmPassword = "Password does not match.";
    if (phoneNumber === undefined || phoneNumber === "") errors.phoneNumber = "Phone Number is required.";
    if (Object.keys(errors).length === 0) {
      const user = { id: users.length + 1, username, password: hash(password), phoneNumber, verificationMethod };
      users.push(user);
      req.session.userId = user.id; // passport.authenticate('local') logs the new user in (line 54)
      return redirect(res, "/");
    }
    return page(res, 400, "Register", `<div class="invalid-feedback">${Object.values(errors).join(" ")}</div>`);
  },

  // routes/index.js:7-14 with userRoles.js:4-10: a user without the role goes to /verify.
  "GET /": async (req, res) => {
    if (!req.user) return redirect(res, "/login"); // connect-ensure-login's default
    if (req.user.role !== ROLE) return redirect(res, "/verify");
    return page(res, 200, "Secrets", `<p>Congratulations ${req.user.username}, you have accessed the secret content!</p>`);
  },

  // routes/verify.js:9-30: every load of the verify page starts a verification.
  "GET /verify": async (req, res) => {
    if (!req.user) return redirect(res, "/login");
    if (req.user.role !== ROLE) {
      const errors = { wasValidated: false };
      const channel = req.user.verificationMethod;
      let verificationRequest;
      try {
        // routes/verify.js:16-18
        verificationRequest = await twilio.verify.services(VERIFICATION_SID)
          .verifications
          .create({ to: req.user.phoneNumber, channel });
      } catch (e) {
        logger.error(e);
        return sendError(res, e); // routes/verify.js:19-22
      }
      logger.debug(verificationRequest); // routes/verify.js:24
      return renderVerify(res, errors);
    }
    // routes/verify.js:29 throws in an async route, which Express 4 leaves unanswered; not reached here.
    throw new Error("User already has `access secret content` role.");
  },

  // routes/verify.js:32-56
  "POST /verify": async (req, res) => {
    if (!req.user) return redirect(res, "/login");
    const { verificationCode: code } = req.body;
    let verificationResult;
    const errors = { wasValidated: true };
    try {
      // routes/verify.js:38-40
      verificationResult = await twilio.verify.services(VERIFICATION_SID)
        .verificationChecks
        .create({ code, to: req.user.phoneNumber });
    } catch (e) {
      logger.error(e);
      return sendError(res, e); // routes/verify.js:41-44
    }
    logger.debug(verificationResult); // routes/verify.js:46
    if (verificationResult.status === "approved") { // routes/verify.js:48-52
      req.user.role = ROLE;
      return redirect(res, "/");
    }
    errors.verificationCode = `Unable to verify code. status: ${verificationResult.status}`;
    return renderVerify(res, errors); // routes/verify.js:54-55
  },

  "GET /login": async (req, res) => page(res, 200, "Login", '<form method="post"></form>'), // routes/auth.js:8-10
};

function hash(password) { // models/user.js:27 has bcrypt, which is not in .deps
  return crypto.createHash("sha256").update(password).digest("hex");
}

function cookies(req) {
  return Object.fromEntries((req.headers.cookie || "").split(";").filter(Boolean)
    .map((c) => c.trim().split("=").map(decodeURIComponent)));
}

http.createServer((req, res) => {
  let raw = "";
  req.on("data", (chunk) => { raw += chunk; });
  req.on("end", async () => {
    let sid = cookies(req).session;
    if (!sid || !sessions.has(sid)) {
      sid = crypto.randomBytes(16).toString("hex");
      sessions.set(sid, {});
      res.setHeader("Set-Cookie", `session=${sid}; Path=/; HttpOnly`);
    }
    req.session = sessions.get(sid);
    req.user = users.find((u) => u.id === req.session.userId); // passport.deserializeUser (app.js:40-42)
    req.body = Object.fromEntries(new URLSearchParams(raw)); // express.urlencoded (app.js:33)
    const path = req.url.split("?")[0];
    const route = routes[`${req.method} ${path}`];
    try {
      if (route) await route(req, res);
      else page(res, 404, "Not Found", ""); // app.js:83-85
    } catch (e) {
      page(res, 500, "Error", "");
    }
  });
}).listen(Number(PORT), "127.0.0.1");
