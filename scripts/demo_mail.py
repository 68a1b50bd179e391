"""The demo's mail catcher: a real SMTP server (aiosmtpd, Debian's
python3-aiosmtpd, run with /usr/bin/python3) on 127.0.0.1:PORT that
delivers nothing and keeps every mail it accepts in DIR:

  DIR/mail.log     each mail, readable: sender, recipients, subject, the text part
  DIR/NNNN.eml     the whole message (open it in a mail program)
  DIR/NNNN.html    its HTML part (open it in a browser)

and says one line per mail on standard output. Prints "listening" once it
accepts connections.

    /usr/bin/python3 scripts/demo_mail.py PORT DIR
"""

import asyncio
import email
import email.policy
import os
import sys

from aiosmtpd.smtp import SMTP


class Keeper:
    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self.count = len([f for f in os.listdir(folder) if f.endswith(".eml")])

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.count += 1
        stem = os.path.join(self.folder, "%04d" % self.count)
        with open(stem + ".eml", "wb") as f:
            f.write(raw)
        html = msg.get_body(("html",))
        if html is not None:
            with open(stem + ".html", "w", encoding="utf-8") as f:
                f.write(html.get_content())
        text = msg.get_body(("plain",))
        with open(os.path.join(self.folder, "mail.log"), "a", encoding="utf-8") as f:
            f.write("=" * 72 + "\n")
            f.write("From:    %s\nTo:      %s\nSubject: %s\nDate:    %s\n"
                    % (msg["From"], ", ".join(envelope.rcpt_tos), msg["Subject"], msg["Date"]))
            f.write("Whole:   %s.eml%s\n\n" % (stem, "  HTML: %s.html" % stem if html is not None else ""))
            f.write((text.get_content() if text is not None else "(no text part)") + "\n")
        print("mail to %s: %s  (%s)" % (", ".join(envelope.rcpt_tos), msg["Subject"],
                                         os.path.join(self.folder, "mail.log")), flush=True)
        return "250 Message accepted for delivery"


async def serve(port, folder):
    loop = asyncio.get_running_loop()
    keeper = Keeper(folder)
    server = await loop.create_server(
        lambda: SMTP(keeper, hostname="mail.demo.test", decode_data=False),
        "127.0.0.1",
        port,
    )
    print("listening", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2]))
