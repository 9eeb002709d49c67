"""A test double of Twilio's Verify quickstart for Flask (TwilioDevEd/verify-v2-quickstart-python,
MIT), run by tests/integration/test_twilio_quickstarts.py. Not the app: its code stays in its
repository (this repository commits no third-party code, and CI cannot fetch from GitHub). This
is our own code making the SDK calls the quickstart makes, with its parameters, in its order,
on its user actions, and showing the user what it shows (its flash messages, its redirects, and
Flask's 500 page where its exception is unhandled). Each call cites the line it follows, at

    https://github.com/TwilioDevEd/verify-v2-quickstart-python/blob/5c54ef4957ee13d2d894aa62685e1e2caf968a3b/

The one change a team makes to move the app here is the base URL (docs/twilio-verify.md):
`client.verify.base_url`, from VERIFY_BASE_URL. The credentials are the quickstart's own
(.env.example): TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (this service's auth token), read by
``Client()`` from the environment, and VERIFICATION_SID, the Service.

    PORT=... QUICKSTART_DATABASE=... python tests/integration/quickstart_flask.py   (init_db first)
"""

from __future__ import annotations

import functools
import os
import sqlite3

from flask import Blueprint, Flask, flash, g, redirect, render_template_string, request, session, url_for
from twilio.rest import Client
from werkzeug.security import check_password_hash, generate_password_hash

# verify/auth.py:16 `client = Client()`: the account SID and auth token from the environment.
client = Client()
client.verify.base_url = os.environ.get("VERIFY_BASE_URL", client.verify.base_url)  # the one line added

# verify/schema.sql:7-13: the user table's constraints (the username and the number unique).
SCHEMA = """
DROP TABLE IF EXISTS user;
CREATE TABLE user (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT UNIQUE NOT NULL,
  password TEXT NOT NULL,
  phone_number TEXT UNIQUE NOT NULL,
  verified INTEGER NOT NULL DEFAULT 0
);
"""

# Our own pages, with the fields and the flash messages of verify/templates/ (base.html:32-34
# shows each flashed message in a div.flash).
PAGE = """<!DOCTYPE html><title>{{ title }} - Twilio Verify</title>
<h1>{{ title }}</h1>
{% for message in get_flashed_messages() %}<div class="flash">{{ message }}</div>{% endfor %}
{{ body | safe }}"""
FORMS = {
    # auth/register.html:13-25; intl-tel-input fills the hidden input full_phone (line 30).
    "Register": '<form method="post"><input name="username"><input type="password" name="password">'
                '<input type="tel" name="phone"><input type="hidden" name="full_phone">'
                '<input type="radio" name="channel" value="sms" checked>'
                '<input type="radio" name="channel" value="call">'
                '<input type="radio" name="channel" value="whatsapp"><button>Sign Up</button></form>',
    "Verify": '<form method="post"><input name="code" id="code" type="number"><button>Verify</button></form>',
    "Log In": '<form method="post"><input name="username"><input type="password" name="password"></form>',
    "Secrets": "Congratulations, you have accessed the secret content with your verified account!",
}


def page(title: str, body: str | None = None) -> str:
    return render_template_string(PAGE, title=title, body=FORMS.get(title, body or ""))


def init_db(database: str) -> None:
    """`flask init-db` (verify/db.py:33-46; `make serve-setup`): drop the users, start again."""
    with sqlite3.connect(database) as db:
        db.executescript(SCHEMA)


def get_db() -> sqlite3.Connection:
    if "db" not in g:  # verify/db.py:8-20
        g.db = sqlite3.connect(os.environ["QUICKSTART_DATABASE"])
        g.db.row_factory = sqlite3.Row
    return g.db


def close_db(e=None) -> None:
    db = g.pop("db", None)  # verify/db.py:23-30
    if db is not None:
        db.close()


bp = Blueprint("auth", __name__, url_prefix="/auth")


def login_required(view):
    @functools.wraps(view)
    def wrapped_view(**kwargs):  # verify/auth.py:19-28
        if g.user is None:
            return redirect(url_for("auth.login"))
        return view(**kwargs)
    return wrapped_view


def start_verification(to: str, channel: str = "sms") -> str:
    if channel not in ("sms", "call", "whatsapp"):  # verify/auth.py:32-33
        channel = "sms"
    service = os.environ["VERIFICATION_SID"]  # verify/auth.py:35 (app.config, from the environment)
    # verify/auth.py:37-40: the start; an exception is not caught, so Flask answers its 500 page.
    verification = client.verify.services(service).verifications.create(to=to, channel=channel)
    return verification.sid


def check_verification(phone: str, code: str):
    service = os.environ["VERIFICATION_SID"]  # verify/auth.py:46
    try:
        # verify/auth.py:49-52: the check, by the number kept in the session.
        verification_check = client.verify.services(service).verification_checks.create(to=phone, code=code)
        if verification_check.status == "approved":  # verify/auth.py:54-62
            db = get_db()
            db.execute("UPDATE user SET verified = 1 WHERE phone_number = ?", (phone,))
            db.commit()
            flash("Your phone number has been verified! Please login to continue.")
            return redirect(url_for("auth.login"))
        flash("The code you provided is incorrect. Please try again.")  # verify/auth.py:63-64
    except Exception as e:
        flash("Error validating code: {}".format(e))  # verify/auth.py:65-66
    return redirect(url_for("auth.verify"))  # verify/auth.py:68


@bp.before_app_request
def load_logged_in_user() -> None:  # verify/auth.py:71-82
    user_id = session.get("user_id")
    g.user = None if user_id is None else get_db().execute("SELECT * FROM user WHERE id = ?",
                                                             (user_id,)).fetchone()


@bp.route("/register", methods=("GET", "POST"))
def register():
    if request.method == "POST":  # verify/auth.py:92-126
        username, password = request.form["username"], request.form["password"]
        phone, channel = request.form["full_phone"], request.form["channel"]
        db = get_db()
        error = None
        if not username:
            error = "Username is required."
        elif not phone:
            error = "Phone number is required"
        elif not password:
            error = "Password is required."
        elif db.execute("SELECT id FROM user WHERE username = ?", (username,)).fetchone() is not None:
            error = "User {0} is already registered.".format(username)
        if error is None:
            session["phone"] = phone  # verify/auth.py:113
            vsid = start_verification(phone, channel)  # verify/auth.py:114: the only start
            if vsid is not None:  # verify/auth.py:116-124: the user is written after the send
                db.execute("INSERT INTO user (username, password, phone_number) VALUES (?, ?, ?)",
                           (username, generate_password_hash(password), phone))
                db.commit()
                return redirect(url_for("auth.verify"))
        flash(error)
    return page("Register")


@bp.route("/verify", methods=("GET", "POST"))
def verify():
    if request.method == "POST":  # verify/auth.py:133-136; a GET only shows the form (line 138)
        return check_verification(session.get("phone"), request.form["code"])
    return page("Verify")


@bp.route("/login", methods=("GET", "POST"))
def login():
    if request.method == "POST":  # verify/auth.py:144-164
        username, password = request.form["username"], request.form["password"]
        user = get_db().execute("SELECT * FROM user WHERE username = ?", (username,)).fetchone()
        error = None
        if user is None:
            error = "Incorrect username."
        elif not check_password_hash(user["password"], password):
            error = "Incorrect password."
        if error is None:
            session.clear()
            session["user_id"] = user["id"]
            return redirect(url_for("secret"))
        flash(error)
    return page("Log In")


def create_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = os.environ["SECRET_KEY"]  # verify/__init__.py:20
    app.teardown_appcontext(close_db)  # verify/db.py:49-53

    @app.route("/users")
    def list_users():  # verify/__init__.py:38-42, templates/users.html:6-15
        users = get_db().execute("SELECT * FROM user").fetchall()
        return page("Users", "".join(f"<div>{u['username']} | {u['phone_number']} | "
                                     f"{'Not Verified' if u['verified'] == 0 else 'Verified!'}</div>"
                                     for u in users))

    @app.route("/", endpoint="secret")
    @login_required
    def secret():  # verify/secret.py:7-10, verify/__init__.py:50
        return page("Secrets")

    app.register_blueprint(bp)
    return app


if __name__ == "__main__":
    # `flask run` (the quickstart's Makefile, serve)
    create_app().run(host="127.0.0.1", port=int(os.environ["PORT"]), threaded=True)
