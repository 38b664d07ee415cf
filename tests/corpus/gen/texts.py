"""Message texts for the corpus: what people write to a community CA's support desk."""

# topic -> list of (subject, body) in English.
EN = {
    "password": [
        ("Lost password, cannot log in",
         "Hello,\n\nI have lost the password for my account and the password reset\n"
         "questions do not work any more: I no longer remember the answers.\n"
         "My primary email is still the same. Could you help me to reset it?\n\n"
         "Thanks,\n{name}\n"),
        ("Password reset link expired",
         "Hi support team,\n\nthe reset link I received yesterday says it has expired.\n"
         "I tried three times. Is there a way to get a fresh one?\n\nRegards\n{name}\n"),
        ("Account locked after too many login attempts",
         "Dear support,\n\nmy account has been locked after I typed a wrong password a few\n"
         "times. I can prove my identity with my client certificate if needed.\n\n{name}\n"),
        ("Lost account - old email address no longer exists",
         "Hello,\n\nmy account is registered with an address at a former employer which\n"
         "no longer exists. I am an Assurer with 35 points given. How can I recover\n"
         "the lost account and change the primary address?\n\nBest wishes,\n{name}\n"),
        ("Forgot passphrase for login",
         "Good morning,\n\nI forgot the passphrase and the lost password procedure asks for\n"
         "my date of birth, which I apparently entered wrongly years ago.\n\n{name}\n"),
    ],
    "assurance": [
        ("How many points do I need to become an Assurer?",
         "Hi,\n\nI was assured by two people at a meeting last week and now have\n"
         "70 points. What else do I need to become an Assurer? Is the Assurer\n"
         "Challenge available in other languages?\n\nCheers,\n{name}\n"),
        ("Assurance points not showing up",
         "Hello,\n\nI was assured on Saturday by an Assurer but the points do not show in\n"
         "my account. The Assurer says she entered them. Could you check?\n\n{name}\n"),
        ("Looking for an Assurer near me",
         "Dear team,\n\nis there an Assurer in my area? The location search on the website\n"
         "shows nobody within 100 km. I would like to get assured to issue\n"
         "certificates with my name.\n\nThank you,\n{name}\n"),
        ("TTP assurance abroad",
         "Hello support,\n\nI live far from any Assurer. Is the Trusted Third Party (TTP)\n"
         "programme still available for my country, and which form do I use?\n\n{name}\n"),
        ("Wrong date of birth entered during assurance",
         "Hi,\n\nthe Assurer noticed my date of birth in the system is wrong by one day,\n"
         "so she could not complete the assurance. How can this be corrected?\n\n{name}\n"),
    ],
    "certificate": [
        ("Client certificate not accepted by browser",
         "Hello,\n\nI created a client certificate and imported it into my browser, but the\n"
         "login with certificate fails with 'no certificate presented'. I use the\n"
         "latest browser version.\n\nThanks,\n{name}\n"),
        ("Please revoke my server certificate",
         "Dear support,\n\nthe private key of my server certificate for www.example.net may have\n"
         "been exposed. I revoked it in the web interface but the CRL still lists it as\n"
         "valid. Could you check?\n\n{name}\n"),
        ("CSR rejected: key too short",
         "Hi,\n\nmy certificate signing request (CSR) was rejected with 'key too short'.\n"
         "I generated a 2048 bit key. What is the minimum now?\n\n{name}\n"),
        ("Certificate expired, renewal fails",
         "Hello,\n\nmy email certificate expired and the renew button returns an error.\n"
         "Do I need to create a new certificate instead?\n\n{name}\n"),
        ("S/MIME certificate for a second email address",
         "Hi team,\n\nI want a client certificate that covers two email addresses. The\n"
         "second address is verified. Is this possible?\n\nRegards,\n{name}\n"),
    ],
    "dispute": [
        ("Dispute: account used by another person",
         "Dear Support,\n\nI want to file a dispute.\n\nClaimant: {name}\nRespondent: the holder of "
         "account bob.okafor@example.net\nComplaint: the respondent created an account in my name and had\n"
         "it assured.\nRelief requested: the account is closed and the points removed.\n\n{name}\n"),
        ("Please file DISPUTE to request Arbitrated Background Check",
         "Please file DISPUTE to request Arbitrated Background Check over Santa Claus,\n"
         "known as St Nick <st.nick@example.net>. He is currently working as Triage\n"
         "within Support Department.\nThe direct result is to propose him to board for the "
         "potential role of\nSupport Engineer, as covered by Security Policy 9.1.4.2.\n\n{name}\n"
         "Support Team Leader\n"),
        ("Re: a20071225.1 - request for information",
         "Hello Support,\n\nthe Arbitrator in case a20071225.1 asks whether the account\n"
         "in question still exists and when the last login happened.\n\nCase Manager\n{name}\n"),
        ("Arbitration case a20230914.3 ruling",
         "Dear all,\n\nplease find the ruling of arbitration case a20230914.3 below.\n"
         "Support is asked to execute the ruling and report back.\n\n{name}\nArbitrator\n"),
        ("I want to dispute a wrongly entered assurance",
         "Hi,\n\nan Assurer entered 35 points for me that I never received in person.\n"
         "I want to file a dispute about it, the CCA says I have to.\n\n{name}\n"),
    ],
    "ticket": [
        ("Re: [s20120418.179] Cannot add domain",
         "Hello,\n\nthanks for the answer in ticket s20120418.179. The domain ping still\n"
         "fails; the MX record points to mail.example.net.\n\n{name}\n"),
        ("Re: Your request s20240102.12",
         "Hi,\n\nfollowing up on s20240102.12: I have not heard back for two weeks.\n"
         "Is anyone working on it?\n\n{name}\n"),
        ("Fwd: s20221130.7 still open",
         "Dear team,\n\nI am forwarding the reply for s20221130.7 as requested.\n\n{name}\n"),
    ],
    "payment": [
        ("Donation receipt needed",
         "Hello,\n\nI made a donation of 50 EUR last month by bank transfer. Could you\n"
         "send me a donation receipt for my tax declaration?\n\n{name}\n"),
        ("PayPal payment did not go through",
         "Hi,\n\nI tried to pay the membership fee with PayPal but the payment was\n"
         "refused. Can I pay by bank transfer instead? Please send an invoice.\n\n{name}\n"),
        ("Membership fee invoice 2024",
         "Dear treasurer,\n\nplease send the invoice for the membership fee; our\n"
         "accounting needs it for the payment.\n\n{name}\n"),
    ],
    "privacy": [
        ("Request to delete my account",
         "Hello,\n\nplease delete my account and all personal data you hold about me.\n"
         "I no longer use the certificates.\n\n{name}\n"),
        ("GDPR data access request",
         "Dear data controller,\n\nunder Article 15 GDPR I request a copy of all personal data you\n"
         "process about me, the purposes and the retention periods.\n\n{name}\n"),
        ("Account deletion and privacy question",
         "Hi,\n\nif I close my account, what happens to the assurance records? I care\n"
         "about my privacy and want my name removed where possible.\n\n{name}\n"),
    ],
    "orga": [
        ("Organisation Assurance for our association",
         "Hello,\n\nour association would like to apply for Organisation Assurance so we\n"
         "can issue certificates for our domain example.com. Who is the OA contact?\n\n{name}\n"),
        ("Organization assurance renewal",
         "Dear OA team,\n\nour organization assurance expires next month. Which documents do\n"
         "you need for the renewal?\n\n{name}\nIT department\n"),
    ],
    "triage": [
        ("Question about your service",
         "Hello,\n\nI am new here. What exactly do you offer and is it free of charge?\n\n{name}\n"),
        ("Volunteering for the support team",
         "Hi,\n\nI would like to help the support team as Triage. I am an Assurer and\n"
         "have some time every evening. What are the next steps?\n\n{name}\n"),
        ("Website typo",
         "Hi,\n\nthe FAQ page has a broken link at the bottom. Just letting you know.\n\n{name}\n"),
        ("Hello",
         "Hi,\n\ncan somebody call me back? It is about my thing from last week.\n\n{name}\n"),
    ],
}

DE = {
    "password": ("Passwort vergessen",
                 "Hallo,\n\nich habe mein Passwort vergessen und komme nicht mehr in mein Konto.\n"
                 "Bitte helfen Sie mir, das Passwort zurückzusetzen.\n\nMit freundlichen Grüßen\n{name}\n"),
    "certificate": ("Zertifikat läuft ab",
                    "Guten Tag,\n\nmein Client-Zertifikat läuft nächste Woche ab. Wie kann ich es\n"
                    "verlängern? Der Knopf auf der Webseite funktioniert nicht.\n\nGrüße\n{name}\n"),
    "assurance": ("Frage zu Assurance-Punkten",
                  "Hallo zusammen,\n\nich wurde auf der Messe überprüft, aber die Punkte fehlen noch.\n"
                  "Könnt ihr bitte nachsehen?\n\nDanke und Grüße\n{name}\n"),
    "privacy": ("Bitte Konto löschen",
                "Sehr geehrte Damen und Herren,\n\nbitte löschen Sie mein Konto und alle gespeicherten Daten\n"
                "gemäß DSGVO. Ich nutze den Dienst nicht mehr.\n\nMit freundlichen Grüßen\n{name}\n"),
    "triage": ("Allgemeine Frage",
               "Hallo,\n\nich bin neu hier und weiß nicht, wo ich anfangen soll. Gibt es eine\n"
               "Anleitung auf Deutsch?\n\nViele Grüße\n{name}\n"),
    "payment": ("Spende und Spendenquittung",
                "Hallo,\n\nich habe 20 Euro gespendet. Bekomme ich eine Spendenquittung?\n\nGrüße\n{name}\n"),
    "dispute": ("Beschwerde über einen Assurer",
                "Hallo Support,\n\nich möchte einen Dispute einreichen: ein Assurer hat mir Punkte\n"
                "gegeben, ohne meinen Ausweis zu prüfen.\n\n{name}\n"),
}

FR = {
    "password": ("Mot de passe perdu",
                 "Bonjour,\n\nj'ai perdu mon mot de passe et je ne peux plus me connecter à mon compte.\n"
                 "Pouvez-vous m'aider, s'il vous plaît ?\n\nMerci d'avance,\n{name}\n"),
    "certificate": ("Problème de certificat",
                    "Bonjour,\n\nmon certificat client n'est pas reconnu par mon navigateur.\n"
                    "Que dois-je faire ?\n\nCordialement,\n{name}\n"),
    "assurance": ("Question sur les points d'assurance",
                  "Bonjour,\n\ncombien de points faut-il pour devenir Assurer ? J'ai été vérifié\n"
                  "par deux personnes.\n\nMerci,\n{name}\n"),
    "privacy": ("Suppression de mon compte",
                "Bonjour,\n\nje souhaite la suppression de mon compte et de toutes mes données\n"
                "personnelles, conformément au RGPD.\n\nCordialement,\n{name}\n"),
    "triage": ("Renseignements",
               "Bonjour,\n\nje voudrais des renseignements sur vos services. Merci beaucoup.\n\n{name}\n"),
    "payment": ("Reçu pour mon don",
                "Bonjour,\n\nj'ai fait un don de 30 euros. Pourriez-vous m'envoyer un reçu ?\n\n"
                "Merci,\n{name}\n"),
}

SPAM = [
    ("You have WON 1,000,000 USD!!!",
     "Dear Friend,\n\nCongratulations! Your email was selected in our annual lottery.\n"
     "Send your bank details to claim the prize.\n"),
    ("Cheap certificates - 90% off",
     "Buy SSL certificates now! Best price guaranteed. Click here to order today.\n"),
    ("Urgent business proposal",
     "Dear Sir/Madam,\n\nI am a banker and I need your assistance to transfer funds.\n"),
    ("Re: your invoice",
     "Please open the attached invoice and enable macros to view it.\n"),
    ("Increase your website traffic",
     "We can bring 10,000 visitors a day to your site. Reply for a free quote.\n"),
    ("Your mailbox is full",
     "Your mailbox quota is exceeded. Verify your password here to keep receiving mail.\n"),
    ("Rolex replicas",
     "Finest replica watches at discount prices. Visit our online shop.\n"),
]
