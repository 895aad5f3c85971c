"""The structural generator on chunk text shaped like ingestion's output."""
import pytest

from docsbot.qa.generators import ChunkInput, chunk_body, vocabulary
from docsbot.qa.generators.structural import StructuralGenerator
from docsbot.qa.generators.wording import unshouted

# Names vocabulary.learn finds in the Flask docs (part of them): most of these tests quote those docs.
FLASK_DOCS = vocabulary.Vocabulary(
    names=frozenset({"Apache", "Celery", "Click", "Django", "Flask", "Gunicorn", "JavaScript", "Jinja", "Jinja2",
                     "Linux", "MongoDB", "PyPI", "Python", "SQLAlchemy", "SQLite", "WTForms", "Waitress", "Werkzeug",
                     "Windows"}),
    product="Flask", platforms=frozenset({"Flask", "JavaScript", "Jinja", "Jinja2", "Python", "Werkzeug", "Windows"}))


@pytest.fixture(autouse=True)
def _flask_docs_vocabulary():
    with vocabulary.using(FLASK_DOCS):
        yield


def _pairs(path, text, first=True, docs=FLASK_DOCS):
    result = StructuralGenerator().generate(ChunkInput(1, path[0], tuple(path), " > ".join(path) + "\n\n" + text,
                                                       first_of_section=first, vocabulary=docs))
    return {c.question: c for c in result.candidates}, result


def test_it_strips_the_heading_path_prefix():
    assert chunk_body("Guide > Setup\n\nBody text here.", ["Guide", "Setup"]) == "Body text here."
    assert chunk_body("Body only.", ["Guide"]) == "Body only."


def test_it_turns_task_headings_into_how_to_questions_with_the_text_as_answer():
    pairs, _ = _pairs(["Quickstart", "Configuring the project"],
                      "Create a file named `acme.toml` in the project root. The `region` option selects the data "
                      "centre; the default is `eu-west`.\n\nOption | Default | Meaning\nregion | eu-west | Data "
                      "centre used for uploads\nretries | 3 | How many times a failed upload is retried")
    how = pairs["How do I configure the project?"]
    assert how.kind == "how-to" and how.answer.startswith("Create a file named `acme.toml`")
    assert "the default is `eu-west`" in pairs["What does the `region` option do?"].answer
    assert pairs["What does the `retries` option do?"].answer == \
        "`retries`: How many times a failed upload is retried (default: 3)."


def test_a_how_to_heading_that_lists_the_ways_is_answered_from_the_ways():
    pairs, _ = _pairs(["Uploading documents"],
                      "Acme reads your documents as you already have them. There are three ways to upload, and they "
                      "all behave the same: the upload page, the HTTP API and the `ingest` command.")
    assert pairs["How do I upload documents?"].answer.startswith("There are three ways to upload")
    pairs, _ = _pairs(["Uploading documents"],
                      "Uploads are kept in the team's folder. There are two ways to do this: the upload page and the "
                      "`ingest` command.")
    assert pairs["How do I upload documents?"].answer.startswith("Uploads are kept")


def test_a_section_named_by_a_feature_the_product_supports_asks_how_to_use_it_with_its_code():
    digest = ("Another very popular form of HTTP Authentication is Digest Authentication, and Acme supports this out "
              "of the box as well:\n\n```\n>>> acme.get(url, auth=HTTPDigestAuth('user', 'pass'))\n```")
    pairs, _ = _pairs(["Authentication", "Digest Authentication"], digest)
    used = pairs["How do I use digest authentication?"]
    assert used.kind == "how-to" and "HTTPDigestAuth('user', 'pass')" in used.answer
    # Not a heading that points at what the page has not said, nor an opening that only reads data.
    pairs, _ = _pairs(["Authentication", "New Forms of Authentication"],
                      digest.replace("Digest Authentication", "new forms of authentication"))
    assert not any(question.startswith("How do I use") for question in pairs)
    pairs, _ = _pairs(["Quickstart", "Response Content"],
                      "We can read the content of the server's response:\n\n```\n>>> r.text\n```")
    assert not any(question.startswith("How do I use") for question in pairs)


def test_a_class_named_by_its_heading_alone_asks_what_it_is_when_its_text_opens_with_it():
    pairs, _ = _pairs(["Serializer relations", "API Reference", "StringRelatedField"],
                      "StringRelatedField may be used to represent the target of the relationship using its __str__ "
                      "method. For example:\n\n```\ntracks = serializers.StringRelatedField(many=True)\n```")
    assert pairs["What is `StringRelatedField`?"].answer == \
        "StringRelatedField may be used to represent the target of the relationship using its __str__ method."
    pairs, _ = _pairs(["Renderers", "Third party packages", "MessagePack"],
                      "MessagePack is a fast, efficient binary serialization format. Juan Riaza maintains a package.")
    assert pairs["What is MessagePack?"].answer.startswith("MessagePack is a fast")
    pairs, _ = _pairs(["What's new", "Results", "MongoDB"],
                      "The MongoDB results backend can now handle binary-encoded task results.")
    assert not any(question.startswith("What is") for question in pairs)
    pairs, _ = _pairs(["Authentication", "API Reference", "TokenAuthentication"],
                      "This authentication scheme uses a simple token-based HTTP Authentication scheme.")
    assert "What is `TokenAuthentication`?" not in pairs


def test_an_entry_headed_by_a_member_alone_asks_about_it_on_its_page():
    pairs, _ = _pairs(["Class-based Views", "Dispatch methods", ".initial(self, request, *args, **kwargs)"],
                      "Performs any actions that need to occur before the handler method gets called.")
    assert pairs["What does `.initial()` do in class-based views?"].answer.startswith("Performs any actions")
    pairs, _ = _pairs(["Requests", "Request parsing", ".data"],
                      "request.data returns the parsed content of the request body.")
    assert "What is `.data` in requests?" in pairs
    pairs, _ = _pairs(["Testing", "Forcing authentication", ".force_authenticate(request, user=None, token=None)"],
                      "Sometimes you may want to bypass authentication entirely and force all requests by the test "
                      "client to be automatically treated as authenticated.")
    assert not any("force_authenticate" in question for question in pairs)


def test_an_faq_label_naming_what_is_supported_asks_whether_the_product_supports_it():
    acme = vocabulary.Vocabulary(names=frozenset({"Acme", "Python"}), product="Acme")
    pairs, _ = _pairs(["Frequently Asked Questions", "Python 3 Support?"],
                      "Yes! Acme officially supports Python 3.7+ and PyPy.", docs=acme)
    assert pairs["Does Acme support Python 3?"].answer.startswith("Yes! Acme officially supports")
    pairs, _ = _pairs(["Frequently Asked Questions", "Encoded Data?"],
                      "Acme automatically decompresses gzip-encoded responses.", docs=acme)
    assert not any("support" in question for question in pairs)


def test_it_asks_no_task_heading_whose_page_is_named_by_the_same_task():
    pairs, _ = _pairs(["Install", "Installing"], "Run pip install acme to install the acme package.")
    assert not any("install install" in question.lower() for question in pairs)


def test_it_asks_what_each_option_of_a_man_page_does():
    git = vocabulary.Vocabulary(names=frozenset({"Git"}), product="Git", platforms=frozenset({"Git"}))
    text = ("git-log(1) > OPTIONS\n\n--follow:\n\nContinue listing the history of a file beyond renames (works only "
            "for a single file).\n\n--no-decorate:\n\n--decorate[=short|full|auto|no]:\n\nPrint out the ref names of "
            "any commits that are shown.\n\n-L<start>,<end>:<file>:\n\nTrace the evolution of the line range.")
    with vocabulary.using(git):
        result = StructuralGenerator().generate(ChunkInput(1, "git-log(1)", ("git-log(1)", "OPTIONS"), text,
                                                           vocabulary=git))
    pairs = {c.question: c for c in result.candidates}
    assert pairs["What does `git log --follow` do?"].answer == \
        "`--follow`: Continue listing the history of a file beyond renames (works only for a single file)."
    assert pairs["What does `git log --decorate` do?"].answer.startswith("`--decorate[=short|full|auto|no]`: Print")
    assert not any("--no-decorate" in q or "-L" in q for q in pairs)  # an alternative spelling; a range syntax
    more = ("git-svn(1) > OPTIONS\n\n--stdin:\n\nOnly used with the set-tree command.\n\nRead a list of commits from "
            "stdin and commit them in reverse order.\n\n--word-diff[=<mode>]:\n\nShow a word diff. The <mode> must be "
            "one of:\n\ncolor:\n\nHighlight changed words using only colors.")
    with vocabulary.using(git):
        result = StructuralGenerator().generate(ChunkInput(1, "git-svn(1)", ("git-svn(1)", "OPTIONS"), more,
                                                           vocabulary=git))
    pairs = {c.question: c for c in result.candidates}
    # a note before the description takes the description with it; a list of values it announces is not there
    assert pairs["What does `git svn --stdin` do?"].answer.endswith("commit them in reverse order.")
    assert "What does `git svn --word-diff` do?" not in pairs


GIT_DOCS = vocabulary.Vocabulary(names=frozenset({"Git"}), product="Git", platforms=frozenset({"Git"}))
CELERY_DOCS = vocabulary.Vocabulary(names=frozenset({"Celery"}), product="Celery", platforms=frozenset({"Celery"}))


def _git_pairs(path, text, first=True):
    return _pairs(path, text, first, docs=GIT_DOCS)[0]


def test_it_asks_what_each_subcommand_of_a_man_page_does():
    pairs = _git_pairs(["git-stash(1)", "COMMANDS"],
                       "push [-p|--patch] [-q|--quiet] [--] [<pathspec>…]:\n\nSave your local modifications to a new "
                       "stash entry and roll them back to HEAD.\n\nclear:\n\nRemove all the stash entries.\n\n"
                       "drop [-q|--quiet] [<stash>]:")
    assert pairs["What does `git stash push` do?"].answer == \
        "`push [-p|--patch] [-q|--quiet] [--] [<pathspec>…]`: Save your local modifications to a new stash entry " \
        "and roll them back to HEAD."
    assert pairs["What does `git stash clear` do?"].answer == "`clear`: Remove all the stash entries."
    assert not any("drop" in question for question in pairs)  # its description is in the next chunk
    # Outside a COMMANDS section a term is no subcommand ("color:" lists a value of --word-diff).
    values = _git_pairs(["git-diff(1)", "OPTIONS"], "color:\n\nHighlight changed words using only colors.")
    assert not any("color" in question for question in values)


def test_it_asks_what_a_man_pages_command_does_from_the_description_that_says_it():
    pairs = _git_pairs(["git-rerere(1)", "DESCRIPTION"],
                       "In a workflow employing relatively long lived topic branches, the developer sometimes needs "
                       "to resolve the same conflicts over and over again.\n\nThis command assists the developer in "
                       "this process by recording conflicted automerge results and corresponding hand resolve "
                       "results.")
    assert pairs["What does `git rerere` do?"].answer.startswith("This command assists the developer")
    imperative = _git_pairs(["git-get-tar-commit-id(1)", "DESCRIPTION"],
                            "Read a tar archive created by git archive from the standard input and extract the commit "
                            "ID stored in it.")
    assert "What does `git get-tar-commit-id` do?" in imperative
    later = _git_pairs(["git-stash(1)", "DESCRIPTION"], "Use git stash when you want to record the current state "
                       "of the working directory.", first=False)
    assert "What does `git stash` do?" not in later  # a later chunk of the section, not its opening


def test_it_asks_what_a_dotted_setting_does_but_not_about_a_file_name():
    pairs = _git_pairs(["git-log(1)", "CONFIGURATION"],
                       "log.showRoot:\n\nIf true, the initial commit will be shown as a big creation event.\n\n"
                       "notes.<name>.mergeStrategy:\n\nWhich merge strategy to choose when doing a notes merge into "
                       "refs/notes/<name>.\n\nsetup.py:\n\nThe file that describes how the package is built.")
    assert pairs["What does the `log.showRoot` setting do?"].answer == \
        "If true, the initial commit will be shown as a big creation event."
    assert "What does the `notes.<name>.mergeStrategy` setting do?" in pairs
    environment = _git_pairs(["git(1)", "ENVIRONMENT VARIABLES"], "GIT_INDEX_FILE:\n\nThis environment variable "
                             "specifies an alternate index file. If not specified, the default of $GIT_DIR/index is "
                             "used.")
    assert environment["What does `GIT_INDEX_FILE` do?"].answer.startswith("This environment variable specifies")
    perl = _git_pairs(["gitweb.conf(5)", "CONFIGURATION VARIABLES"], "$projectroot:\n\nAbsolute filesystem path "
                      "which will be prepended to project path.")
    assert "What does `$projectroot` do?" in perl
    assert not any("setup.py" in question for question in pairs)
    signals, _ = _pairs(["API", "Signals"], "flask.before_render_template:\n\nThis signal is sent before template "
                        "rendering process.")
    assert not any("setting" in question for question in signals)  # the product's own API, not a setting


def test_it_asks_what_a_glossary_term_means_as_a_heading_or_as_a_definition_list_entry():
    glossary, _ = _pairs(["Glossary", "early ack"], "Short for early acknowledgment: a task acknowledged before it "
                         "runs.", docs=CELERY_DOCS)
    assert {question: pair.answer for question, pair in glossary.items()} == {
        "What does “early ack” mean in Celery?": "Short for early acknowledgment: a task acknowledged before it runs."}
    pairs = _git_pairs(["gitglossary(7)", "DESCRIPTION"], "cherry-picking:\n\nIn SCM jargon, \"cherry pick\" means to "
                       "choose a subset of changes out of a series of changes and record them on top of a different "
                       "codebase.\n\ncore Git:\n\nFundamental data structures and utilities of Git.")
    assert pairs["What does “cherry-picking” mean in Git?"].answer.startswith("In SCM jargon")
    assert "What does “core Git” mean?" in pairs  # the term names the product already
    assert not any("DESCRIPTION" in question for question in pairs)  # the man page's section is no term
    # Off a glossary a term list is no glossary ("color:" under --word-diff lists a value).
    assert not _git_pairs(["git-diff(1)", "OPTIONS"], "color:\n\nHighlight changed words using only colors.")


def test_a_definition_list_of_questions_is_asked_as_written():
    pairs = _git_pairs(["gitfaq(7)", "Configuration"], "What should I put in user.name?:\n\nYou should put your "
                       "personal name, generally a form using a given name and family name.")
    assert pairs["What should I put in user.name?"].answer.startswith("You should put your personal name")


def test_it_asks_what_a_named_section_is_when_its_opening_says_what_kind_of_thing_it_is():
    pairs = _git_pairs(["githooks(5)", "HOOKS", "pre-commit"], "This hook is invoked by git-commit(1), and can be "
                       "bypassed with the --no-verify option. It takes no parameters.")
    assert pairs["What is the `pre-commit` hook?"].answer.startswith("This hook is invoked by git-commit(1)")
    thin = _git_pairs(["githooks(5)", "HOOKS", "p4-post-changelist"], "This hook is invoked by git-p4 submit.\n\n"
                      "Run git-p4 submit --help for details.")
    assert not thin  # when it runs, not what it is for
    guide = _git_pairs(["gittutorial(7)", "basics"], "This section is a short walk through the basic commands.")
    assert not any("section" in question for question in guide)  # the docs describing themselves


def test_an_entry_whose_opening_is_only_its_value_line_or_its_parameters_is_not_asked():
    pairs, _ = _pairs(["celery.worker.consumer.agent", "class celery.worker.consumer.agent.Agent(c, **kwargs)",
                       "requires"], "requires = (step:celery.worker.consumer.connection.Connection{()},)")
    assert not pairs
    pairs, _ = _pairs(["celery.beat", "class celery.beat.PersistentScheduler(*args, **kwargs)", "persistence"],
                      "persistence = <module 'shelve' from '/usr/lib/python3.11/shelve.py'>")
    assert not pairs
    pairs, _ = _pairs(["Schemas", "API Reference", "get_docs_view"], "- title: Default None. May be used to provide a "
                      "descriptive title for the schema definition.\n- public: Default True.")
    assert not pairs  # its parameters, not what it is


def test_a_heading_with_a_parenthetical_list_of_names_is_no_signature():
    pairs, _ = _pairs(["Renderers", "Third party packages", "Pandas (CSV, Excel, PNG)"], "Django REST Pandas provides "
                      "a serializer and renderers that support additional data processing and output via the Pandas "
                      "DataFrame API.")
    assert not any("Pandas()" in question for question in pairs)


def test_an_answer_never_names_one_item_of_a_list_as_if_it_were_the_whole():
    pairs, _ = _pairs(["Exceptions", "API Reference", "ValidationError"], "The ValidationError exception is slightly "
                      "different from the other APIException classes:\n\n- The detail argument is mandatory, not "
                      "optional.\n- The detail argument may be a list or dictionary of error details, and may also be a nested data structure. By using a dictionary, you can specify field-level errors while performing object-level validation in the validate() method of a serializer. For example, raise serializers.ValidationError({'name': 'Please enter a valid name.'}) and the error is reported against that field, and the response lists every field's errors under its own key so that a client can show each one next to its input.\n- By convention you should import the serializers module.")
    assert "What is ValidationError?" not in pairs  # its answer would be the intro and the first difference


def test_a_filler_adverb_before_the_task_is_not_asked():
    pairs, _ = _pairs(["Application", "Configuration"], "You can even add new default sources by using the "
                      "app.add_defaults() method.")
    assert "How do I add new default sources?" in pairs


def test_a_concept_or_file_format_man_page_has_no_command_and_following_commands_are_no_verb():
    concept = _git_pairs(["gitcli(7)", "ENHANCED OPTION PARSER"], "-h:\n\ngives a pretty printed usage of the "
                         "command.")
    assert "What does `gitcli -h` do?" not in concept  # gitcli(7) documents conventions, not a command
    protocol = _git_pairs(["gitremote-helpers(7)", "COMMANDS"], "list:\n\nLists the refs, one per line, in the "
                          "format of the protocol.")
    assert not any("gitremote-helpers list" in question for question in protocol)
    equivalent = _git_pairs(["git-log(1)", "DESCRIPTION"], "Use the symmetric difference when you want both sides."
                            "\n\nThe following two commands are equivalent:\n\n```\n$ git log A B --not "
                            "$(git merge-base --all A B)\n$ git log A...B\n```", first=False)
    assert not any("command are" in question for question in equivalent)


def test_a_methods_signature_under_its_dotted_path_is_asked_about_with_its_class():
    pairs, _ = _pairs(["Developer Interface", "class requests.PreparedRequest", "requests.PreparedRequest.prepare"],
                      "prepare(method=None, url=None, headers=None)\n\nPrepares the entire request with the given "
                      "parameters.")
    assert "What does `PreparedRequest.prepare()` do?" in pairs and "What does `prepare()` do?" not in pairs


def test_a_noun_that_reads_as_a_verb_or_a_placeholders_setting_asks_nothing():
    pairs = _git_pairs(["reftable", "Log block format"], "Log record keys are structured as:\n\n```\nref_name '\\0' "
                       "reverse_int64(update_index)\n```")
    assert not any("structured as" in question or "log block format" in question for question in pairs)
    placeholder = _git_pairs(["gitsubmodules(7)", "DESCRIPTION"], "For example, the submodule.foo.url setting specifies "
                             "where to obtain the submodule.")
    assert not any("submodule.foo.url" in question for question in placeholder)


def test_an_faq_asking_about_it_names_the_product_and_an_acronym_is_no_plural():
    faq, _ = _pairs(["Frequently Asked Questions", "Troubleshooting", "Does it work on FreeBSD?"], "Answer: Depends; "
                    "with the RabbitMQ and Redis transports it should work.", docs=CELERY_DOCS)
    sqs, _ = _pairs(["Backends and Brokers", "Summaries", "SQS"], "SQS is a broker. If you already integrate tightly "
                    "with AWS, you may want to use it.", docs=CELERY_DOCS)
    assert "Does Celery work on FreeBSD?" in faq
    assert "What are SQS?" not in sqs


def test_it_asks_about_a_class_documented_without_arguments_its_members_and_exceptions():
    entries = {
        ("API", "class requests.Session"): "A Requests session. Provides cookie persistence and connection-pooling.",
        ("API", "class requests.Session", "get(url, **kwargs)"): "Sends a GET request. Returns Response object.",
        ("API", "class requests.Session", "headers"): "A case-insensitive dictionary of headers to be sent on each "
                                                    "Request sent from this Session.",
        ("API", "exception requests.Timeout(*args, **kwargs)"): "The request timed out. Catching this error will "
                                                               "catch both ConnectTimeout and ReadTimeout errors.",
    }
    asked = {}
    for path, body in entries.items():
        asked.update(_pairs(list(path), body)[0])
    assert asked["What is the `requests.Session` class?"].answer.startswith("A Requests session.")
    assert asked["What does `Session.get()` do?"].answer == "Sends a GET request. Returns Response object."
    assert asked["What is `Session.headers`?"].answer.startswith("A case-insensitive dictionary of headers")
    assert asked["What is the `requests.Timeout` exception?"].answer.startswith("The request timed out.")


def test_it_names_the_command_of_a_man_page():
    from docsbot.qa.generators.options import command_of

    assert command_of("git-log(1)", "Git") == "git log"
    assert command_of("curl(1)", "Git") == "curl"
    assert command_of("Quickstart", "Flask") == ""


def test_it_asks_about_error_headings_and_printed_errors():
    pairs, _ = _pairs(["Quickstart", "Troubleshooting", "Error ACME-401: invalid API key"],
                      "The API key was revoked or mistyped. Create a new key on the account page.")
    assert pairs["What does the error “ACME-401: invalid API key” mean?"].kind == "troubleshooting"
    pairs, _ = _pairs(["Application Context", "Manually Push a Context"],
                      "Outside a context you get this error:\n\n```\nRuntimeError: Working outside of application "
                      "context.\n\nThis typically means that you attempted to use functionality that needed\nthe "
                      "current application.\n```")
    error = pairs["What does the error “RuntimeError: Working outside of application context.” mean?"]
    assert error.answer.startswith("This typically means")


def test_it_asks_about_api_signatures_parameters_and_config_values():
    pairs, _ = _pairs(["API", "class flask.Flask(import_name)", "route(rule, **options)"],
                      "Decorate a view function to register it with the given URL rule and options.\n\n"
                      "Parameters::\n\n- rule (str) – The URL rule string.")
    assert pairs["What does `Flask.route()` do?"].answer.startswith("Decorate a view function")
    assert pairs["What is the `rule` parameter of `Flask.route` for?"].answer == "rule (str) – The URL rule string."
    pairs, _ = _pairs(["Configuration Handling", "Builtin Configuration Values", "SECRET_KEY"],
                      "A secret key that will be used for securely signing the session cookie.\n\nDefault: None")
    assert pairs["What does the `SECRET_KEY` configuration value do?"].answer.endswith("Default: None")


def test_it_asks_definitions_to_do_sentences_and_code_examples():
    pairs, _ = _pairs(["Guide", "Widgets"],
                      "A widget is a small reusable component of a page. To delete an unused widget, send DELETE to its "
                      "URL.\n\nInstall the command-line tool with pip:\n\n```\npip install acme-widgets\n```")
    assert pairs["What is a widget?"].answer.startswith("A widget is a small reusable component")
    assert pairs["How do I delete an unused widget?"].kind == "how-to"
    example = pairs["How do I install the command-line tool with pip?"]
    assert "pip install acme-widgets" in example.answer and example.kind == "example"


def test_it_asks_about_a_heading_only_in_the_first_chunk_of_its_section():
    text = "Run `acme deploy` with a token in the environment of the shell; it takes one command."
    assert "How do I deploy acme services?" in _pairs(["Guide", "Deploying acme services"], text)[0]
    assert not _pairs(["Guide", "Deploying acme services"], text, first=False)[0]
    # "the service": which one, only the page says, so it is not asked.
    assert not _pairs(["Guide", "Deploying the service"], text)[0]


def test_it_rejects_chunks_too_short_or_without_structure():
    assert _pairs(["Guide", "Setup"], "Short.")[1].rejection == "chunk_too_short"
    prose = "Some words that make no question at all, with nothing to ask about anywhere in them, really none."
    assert _pairs(["Guide", "Thoughts"], prose)[1].rejection == "no_structure"


def test_it_asks_about_narrative_prose_with_the_sentence_as_answer():
    pairs, _ = _pairs(["Guide", "Rolling back"],
                      "Run `acme rollback` to switch traffic back to the previous bundle. If a health check "
                      "fails twice, the deployment is stopped and the old bundle keeps serving. If `acme push` "
                      "times out, retry with a smaller bundle. Tokens must be rotated often because leaked tokens "
                      "grant full access. `acme_status()` returns the state of the last deployment.")
    assert pairs["How do I switch traffic back to the previous bundle?"].answer.startswith("Run `acme rollback`")
    happens = pairs["What happens if a health check fails twice?"]
    assert happens.kind == "what-happens" and happens.answer.startswith("If a health check fails twice")
    assert pairs["What should you do if `acme push` times out?"].answer.endswith("retry with a smaller bundle.")
    assert pairs["Why must tokens be rotated often?"].kind == "why"
    assert pairs["What does `acme_status()` do?"].answer == "`acme_status()` returns the state of the last deployment."


def test_it_turns_numbered_steps_into_a_how_to_and_drops_how_tos_that_say_nothing_to_do():
    pairs, _ = _pairs(["Guide", "Install acme widgets"],
                      "1. Download the bundle from the release page.\n2. Unpack it into the widgets folder.")
    steps = pairs["How do I install acme widgets?"]
    assert "Download the bundle" in steps.answer and "Unpack it" in steps.answer
    pairs, _ = _pairs(["Guide", "Configuring logging"],
                      "Logging has been part of the standard library for a long time and many people like it.")
    assert "How do I configure logging?" not in pairs
    prose = "If this happens, it is fine. They said so because it was late."  # leans on pronouns: nothing to ask
    assert not _pairs(["Guide", "Thoughts"], prose)[0]


def test_it_drops_conditions_whose_subject_only_the_page_names():
    prose = ("When the decorated function returns, the dictionary is passed to the renderer. If not using tox, "
             "test dependencies should be listed in a requirements file. If E is present and has a keys method, "
             "then does the loop over E. If you find yourself having many forms, you might want to give it a try.")
    assert not _pairs(["Guide", "Patterns"], prose)[0]


def test_it_does_not_turn_a_docstring_imperative_into_advice():
    pairs, _ = _pairs(["API", "autocorrect_location_header = False"],
                      "If a redirect Location header is a relative URL, make it an absolute URL, including scheme.")
    assert not any(q.startswith("What should you do") for q in pairs)


def test_it_skips_inherited_builtin_docstrings():
    pairs, _ = _pairs(["API", "class flask.sessions.NullSession(initial=None)", "update"],
                      "update([E, ]**F) -> None. Update D from dict/iterable E and F.\n\nIf E is present and has a "
                      ".keys() method, then does: for k in E: D[k] = E[k]")
    assert not pairs


def test_it_asks_about_an_error_heading_only_when_it_names_an_error():
    pairs, _ = _pairs(["Blueprints", "Blueprint Error Handlers"],
                      "Blueprints support the errorhandler decorator just like the application object does.")
    assert not any("error “" in q for q in pairs)


def test_it_gives_how_to_answers_the_command_or_the_instruction_that_follows():
    pairs, _ = _pairs(["Tutorial", "Install the Project"],
                      "Use pip to install your project in the virtual environment.\n\n```\n$ pip install -e .\n```"
                      "\n\nThis installs it in editable mode.")
    assert pairs["How do I install the project?"].answer.endswith("$ pip install -e .\n```")
    pairs, _ = _pairs(["Extensions", "Building Extensions"],
                      "While the index holds many extensions, you may not find one that fits. If so, you can create "
                      "your own, and publish it for others. Read Extension Development to develop your own extension.")
    # The instruction that follows only points to another page (labelled bad in v13): no how-to.
    assert "How do I build extensions?" not in pairs
    pairs, _ = _pairs(["Extensions", "Building Widgets"],
                      "While the index holds many widgets, you may not find one that fits. If so, you can create "
                      "your own, and publish it for others to use as well.")
    assert "How do I build widgets?" not in pairs


def test_it_asks_what_a_section_defines_even_after_an_opening_aside():
    pairs, _ = _pairs(["eventlet"], "Prefer using Gunicorn with eventlet workers rather than eventlet directly.\n\n"
                      "eventlet allows writing asynchronous, coroutine-based code that looks like standard Python. It "
                      "uses greenlet to enable task switching.")
    assert pairs["What is eventlet?"].answer.startswith("eventlet allows writing asynchronous")
    pairs, _ = _pairs(["Adding a favicon"], "A “favicon” is an icon used by browsers for tabs and bookmarks. "
                      "A decorator is a function that wraps and replaces another function.")
    assert pairs["What is a favicon?"].kind == "what-is"
    assert pairs["What is a decorator?"].answer.startswith("A decorator is a function")
    pairs, _ = _pairs(["API", "class Headers", "age"], "Age values are non-negative decimal integers, in seconds.")
    assert "What is age?" not in pairs  # an attribute under a class heading, not a concept


def test_it_asks_bare_task_headings_about_what_the_page_is_about():
    pairs, _ = _pairs(["gevent", "Installing"], "Create a virtualenv, install your application, then install gevent."
                      "\n\n```\n$ pip install gevent\n```")
    assert "pip install gevent" in pairs["How do I install gevent?"].answer
    pairs, _ = _pairs(["Celery Background Tasks", "Installing"], "It is a separate package. Install it with pip.")
    assert not any(q.startswith("How do I install") for q in pairs)  # the section does not name the title
    pairs, _ = _pairs(["Celery Background Tasks", "Installing"], "Celery is a separate package. Install it with pip.")
    assert "How do I install Celery?" in pairs  # it names the page's product
    pairs, _ = _pairs(["Error Handlers", "Handling"], "When building an application you will run into exceptions. "
                      "Register handlers with errorhandler() to return a response.")
    assert "How do I handle the error handlers?" not in pairs
    pairs, _ = _pairs(["Views", "Loading Late"], "The trick is to load the view as needed. Use a LazyView for that.")
    assert not any(q.startswith("How do I load late") for q in pairs)  # "Late" is no object
    pairs, _ = _pairs(["Testing", "Accessing and Modifying the Session"], "Use `client.session_transaction()` to "
                      "modify the session before a request.")
    assert "How do I access and modify the session?" in pairs


def test_it_asks_how_from_means_sentences():
    pairs, _ = _pairs(["Deploying to Production", "Binding Externally"],
                      "gevent should not be run as root. You can bind to all external IPs on a non-privileged port by "
                      "using 0.0.0.0 in the server arguments. "
                      "It’s possible to override flask.Flask.ensure_sync() to change how async functions are wrapped. "
                      "Extension authors can support async functions by utilising the ensure_sync() method.")
    assert pairs["How do I bind to all external IPs on a non-privileged port?"].answer.startswith("You can bind")
    assert "How do I change how async functions are wrapped?" in pairs
    assert "How can extension authors support async functions?" in pairs
    pairs, _ = _pairs(["nginx", "Install"], "Nginx can be installed using your system package manager.")
    assert pairs["How can Nginx be installed?"].kind == "how-to"  # the page is about it
    pairs, _ = _pairs(["Guide", "Things"], "You can do this with a hidden input tag. It can be installed using pip. "
                      "Override this method to change how the app runs async views.")
    assert not pairs  # "this", "It" and "this method" leave the subject to the page


def test_it_asks_about_requirements_usage_recommended_ways_and_dashed_options():
    pairs, _ = _pairs(["mod_wsgi", "Running"],
                      "Installing mod_wsgi requires a compiler and the Apache development headers. When using eventlet, "
                      "greenlet>=1.0 is required. The method is_endpoint_expecting() of the URL map can be used to "
                      "figure out if a language code is needed. The recommended way to work with the shell is the "
                      "flask shell command. The --processes option specifies the number of worker processes to run.")
    assert "What does installing mod_wsgi require?" in pairs
    assert pairs["What is required when using eventlet?"].answer.startswith("When using eventlet")
    assert "What is `is_endpoint_expecting()` used for?" in pairs
    assert "What is the recommended way to work with the shell?" in pairs
    assert any(q.startswith("What does the `--processes` option") for q in pairs)
    pairs, _ = _pairs(["Guide", "Things"], "The with_appcontext() decorator can be used to get the same behavior. "
                      "The first argument can be a path.")
    assert not pairs


def test_it_reads_titled_asides_as_headings_and_passive_means_as_how():
    pairs, _ = _pairs(["Quickstart", "Sessions"], "Sessions keep state between requests.\n\nHow to generate good "
                      "secret keys\n\nA secret key should be random. Run `python -c 'import secrets'` to print one.")
    assert "How do I generate good secret keys?" in pairs
    pairs, _ = _pairs(["Adding HTTP Method Overrides"],
                      "Some proxies do not support arbitrary HTTP methods. The way this works is by letting the "
                      "client do a POST request and set the X-HTTP-Method-Override header.")
    assert "X-HTTP-Method-Override" in pairs["How do I add HTTP method overrides?"].answer


def test_it_keeps_subordinate_clauses_compound_headings_and_example_openers_out_of_questions():
    pairs, _ = _pairs(["Extensions", "Caching Decorator"],
                      "Since g is a single global namespace, extensions must use unique names. Configuration keys "
                      "should start with the extension’s name so that they don’t interfere with other extensions.\n\n"
                      "Imagine an application like this:\n\n```\napp = Flask(__name__)\n```\n\nLike this:\n\n```\nx = 1\n```")
    assert "What is Since g?" not in pairs
    assert "Why should configuration keys start with the extension’s name?" in pairs
    assert not any(q.startswith(("How do I imagine", "How do I like", "How do I cache")) for q in pairs)


def test_it_asks_the_questions_the_text_asks_and_answers():
    pairs, _ = _pairs(["Uploading Files", "Improving Uploads"],
                      "So how exactly does Flask handle uploads? Well it stores them in memory if they are small, "
                      "otherwise in a temporary location. But how do you specify the maximum file size? Set the "
                      "MAX_CONTENT_LENGTH config key:\n\n```\napp.config['MAX_CONTENT_LENGTH'] = 16 * 1000 * 1000\n```"
                      "\n\nWhy is this the case? Because it is. How would you then implement that? Like so, mostly.")
    uploads = pairs["How does Flask handle uploads?"]
    assert uploads.kind == "faq" and uploads.answer.endswith("temporary location.")
    assert not any("the maximum file size" in q for q in pairs)  # which maximum, only the page says
    assert not any("this the case" in q or "implement that" in q for q in pairs)


def test_it_asks_nothing_of_advice_asides_and_rhetorical_questions_but_answers_the_real_why():
    pairs, _ = _pairs(["Quickstart", "URL Building"],
                      "You can change your URLs in one go instead of needing to remember to manually change "
                      "hard-coded URLs. Try to extract complex behaviors as separate functions to test individually. "
                      "Run `acme rollback` to switch traffic back to the previous bundle.")
    assert not any("remember" in q or "extract" in q for q in pairs)
    assert "How do I switch traffic back to the previous bundle?" in pairs  # a real means still counts
    pairs, _ = _pairs(["Tutorial", "Define and Access the Database"],
                      "Even more simply, we could place this in get_db instead:\n\n```\ndb.row_factory = sqlite3.Row\n```")
    assert not any(q.startswith("How do I even") for q in pairs)
    pairs, _ = _pairs(["Design Decisions in Flask", "One Template Engine"],
                      "Flask decides on one template engine: Jinja2. Why doesn’t Flask have a pluggable template "
                      "engine interface? You can obviously use a different template engine, but Flask will still "
                      "configure Jinja2 for you. Why does Flask use a single engine? Because each engine has its own idea of how templates work.")
    assert "Why doesn’t Flask have a pluggable template engine interface?" not in pairs
    assert pairs["Why does Flask use a single engine?"].answer.startswith("Because each engine")
    pairs, _ = _pairs(["uWSGI", "Installing and Running uWSGI"],
                      "If you have a compiler available, you can install the uwsgi package instead. If you have a "
                      "compiler available, you can install the uwsgi package with pip.")
    assert [q for q in pairs if q.startswith("What should you do")] == \
        ["What should you do if you have a compiler available?"]
    assert "with pip" in pairs["What should you do if you have a compiler available?"].answer


def test_it_names_the_page_product_in_heading_questions_that_would_fit_any_page():
    from docsbot.qa.generators.wording import page_name

    assert [page_name(t) for t in ("MongoDB with MongoEngine", "Celery Background Tasks", "SQLAlchemy in Flask",
                                   "Apache httpd", "mod_wsgi (Apache)", "Message Flashing", "Using URL Processors",
                                   "Blog Blueprint")] == \
        ["MongoEngine", "Celery", "SQLAlchemy", "Apache httpd", "mod_wsgi", "", "", ""]
    pairs, _ = _pairs(["MongoDB with MongoEngine", "Creating Data"],
                      "Instantiate your document class with keyword arguments for the fields. Then call doc.save().")
    assert "How do I create data with MongoEngine?" in pairs
    pairs, _ = _pairs(["MongoDB with MongoEngine", "Configuration"],
                      "Basic setup can be done by defining MONGODB_SETTINGS on app.config and creating a MongoEngine "
                      "instance.\n\n```\ndb = MongoEngine(app)\n```")
    assert "db = MongoEngine(app)" in pairs["How do I configure MongoDB with MongoEngine?"].answer
    pairs, _ = _pairs(["Celery Background Tasks", "Install"],
                      "Celery is a separate Python package. Install it from PyPI using pip:\n\n```\n$ pip install celery\n```")
    assert "pip install celery" in pairs["How do I install Celery?"].answer
    assert "How do I install Celery from PyPI using pip?" in pairs
    pairs, _ = _pairs(["Celery Background Tasks", "Run a worker"],
                      "If you jumped in and already executed the above code you will be disappointed to learn that "
                      ".wait() will never actually return. That’s because you also need to run a Celery worker to "
                      "receive and execute the task.\n\n```\n$ celery -A your_application.celery worker\n```")
    assert "celery -A" in pairs["How do I run a worker with Celery?"].answer
    pairs, _ = _pairs(["Message Flashing", "Creating Data"], "Instantiate your document class with keyword arguments "
                      "for the fields. Then call doc.save().")
    assert not any("create data" in q for q in pairs)  # no product named: only the page says whose data
    pairs, _ = _pairs(["Packages", "Simple"], "Install it from PyPI using pip:\n\n```\n$ pip install thing\n```")
    assert not any("install it" in q.lower() for q in pairs)  # what "it" is, only the page says


def test_it_asks_how_to_do_what_the_sentence_before_the_code_says():
    pairs, _ = _pairs(["Patterns", "Factories"],
                      "You can also pass arguments to the factory like this:\n\n```\n$ flask run --app 'hello:create_app(x=1)'\n```"
                      "\n\nTo create the database you can use the init_db function:\n\n```\n>>> init_db()\n```\n\n"
                      "The following example demonstrates how to serve an SPA along with an API:\n\n```\napp = Flask(__name__)\n```"
                      "\n\nCase 1: a module:\n\n```\n/application.py\n```\n\nThen you can use it like this:\n\n```\nx()\n```")
    assert not any("the factory" in q for q in pairs)  # which factory, only the page says
    assert "init_db()" in pairs["How do I create the database?"].answer
    assert pairs["How do I serve an SPA along with an API?"].kind == "example"
    assert not any(q.startswith(("How do I case", "How do I use it")) for q in pairs)


def test_a_how_to_answer_that_only_says_it_can_be_done_is_no_answer():
    pairs, _ = _pairs(["Message Flashing", "Flashing With Categories"],
                      "New in version 0.3.\n\nIt is also possible to provide categories when flashing a message. The "
                      "default category if nothing is provided is 'message'.")
    assert "How do I flash with categories?" not in pairs
    pairs, _ = _pairs(["Message Flashing", "Filtering Flash Messages"],
                      "New in version 0.9.\n\nOptionally you can pass a list of categories which filters the results "
                      "of get_flashed_messages().\n\n```\nget_flashed_messages(category_filter=['error'])\n```")
    assert "category_filter" in pairs["How do I filter flash messages?"].answer  # the version note is no end
    pairs, _ = _pairs(["Uploading Files", "Improving Uploads"],
                      "So how exactly does Flask handle uploads? Well it will store them in the webserver’s memory if "
                      "the files are reasonably small, otherwise in a temporary location.")
    assert "How do I improve uploads?" not in pairs  # "Well" is no verb


def test_it_asks_nothing_of_subjectless_instructions_truncated_entries_or_closing_narration():
    pairs, _ = _pairs(["API", "Application Object", "make_aborter()"],
                      "Create the object to assign to aborter. That object is called by flask.abort() to raise HTTP "
                      "errors. Set debug on the app to see them.")
    assert "How do I assign to aborter?" not in pairs
    pairs, _ = _pairs(["API", "Incoming Request Data", "charset = 'utf-8'"], "The charset used to decode most data in the request.")
    assert list(pairs) == ["What is `charset` in incoming request data?"]  # a plain word: with its owner
    pairs, _ = _pairs(["API", "class flask.sessions.SecureCookieSession(initial=None)", "accessed = False"],
                      "header, which allows caching proxies to cache different pages for different users.")
    assert not pairs
    pairs, _ = _pairs(["Keep Developing!"], "Go back and review the tutorial and compare your code with the steps.")
    assert not pairs
    pairs, _ = _pairs(["Gunicorn", "Async"], "If you need asynchronous support, Gunicorn provides workers using either "
                      "gevent or eventlet.")
    assert not any(q.startswith("What happens if you need") for q in pairs)
    pairs, _ = _pairs(["Tutorial", "Connect"], "`close_db` checks if a connection was created. If the connection "
                      "exists, it is closed.")
    assert pairs["What does `close_db` do?"].answer.endswith("it is closed.")


def test_it_asks_nothing_of_wishes_or_conditions_and_keeps_console_output_out_of_answers():
    pairs, _ = _pairs(["JavaScript, fetch, and JSON"], "You may want to make your HTML page dynamic, by changing data "
                      "without reloading the entire page.")
    assert not any(q.startswith("How do I want") for q in pairs)
    pairs, _ = _pairs(["Command Line Interface", "Disable dotenv"],
                      "The flask command will show a message if it detects dotenv files but python-dotenv is not "
                      "installed.\n\n```\n$ flask run\n * Tip: There are .env files present.\n```\n\nYou can tell Flask "
                      "not to load dotenv files by setting the FLASK_SKIP_DOTENV environment variable.")
    assert "FLASK_SKIP_DOTENV" in pairs["How do I disable dotenv?"].answer
    assert "* Tip" not in pairs["How do I disable dotenv?"].answer
    pairs, _ = _pairs(["Form Validation"], "When you have to work with form data submitted by a browser view, code "
                      "quickly becomes very hard to read.")
    assert not any(q.startswith("What should you do") for q in pairs)
    pairs, _ = _pairs(["Test Coverage", "Blog"], "When valid data is sent in a POST request, create should insert the "
                      "new post data into the database.")
    assert not any(q.startswith("What should you do") for q in pairs)
    pairs, _ = _pairs(["API", "class flask.json.tag.TaggedJSONSerializer", "flask.json.tag.TaggedJSONSerializer.default_tags"],
                      "default_tags = [<class 'flask.json.tag.TagDict'>]\n\nTag classes to bind when creating the "
                      "serializer. Other tags can be added later using register().")
    assert not any(q.startswith("How do I bind") for q in pairs)
    pairs, _ = _pairs(["Lazily Loading Views", "Converting to Centralized URL Map"],
                      "Imagine the current application looks somewhat like this:\n\n```\napp = Flask(__name__)\n```")
    assert not pairs


def test_it_asks_about_comma_less_conditions_settings_that_enable_and_page_products_in_the_passive():
    pairs, _ = _pairs(["Large Applications", "Working with Blueprints"],
                      "If you have larger applications it’s recommended to divide them into smaller groups where each "
                      "group is implemented with the help of a blueprint.")
    assert pairs["What should you do if you have larger applications?"].answer.startswith("If you have larger")
    pairs, _ = _pairs(["Adding a favicon"], "If you want to save the extra redirect request you can also write a view "
                      "using send_from_directory().")
    assert "How do I save the extra redirect request?" in pairs
    pairs, _ = _pairs(["Debugging", "The Built-In Debugger"],
                      "When running from Python code, passing debug=True enables debug mode, which is mostly "
                      "equivalent.")
    assert pairs["How do I enable debug mode?"].kind == "how-to"
    pairs, _ = _pairs(["Apache httpd"], "httpd can be installed using your system package manager, or a pre-built "
                      "executable for Windows.")
    assert "How can httpd be installed?" in pairs
    pairs, _ = _pairs(["Apache httpd"], "Acme can be installed using your system package manager.")
    assert not pairs  # a word no heading names
    pairs, _ = _pairs(["Adding a favicon"], "Now, to get browsers to find your icon, the correct way is to add a link "
                      "tag in your HTML.")
    assert "How do I get browsers to find my icon?" in pairs


def test_a_progressive_verb_is_no_means():
    pairs, _ = _pairs(["Development Server", "Address already in use"],
                      "You can use netstat or lsof to identify what process id is using a port, then use other "
                      "operating system tools stop that process.")
    assert not any(q.endswith("process id is?") for q in pairs)


def test_it_asks_when_an_entry_is_called_not_what_it_does_and_skips_context_free_hows():
    # A parameter list flattened into one line: the answer is the asked parameter's entry.
    pairs, _ = _pairs(["API", "Response Objects", "flask.Response.set_cookie"],
                      "- key (str) – the key (name) of the cookie to be set. - value (str) – the value of the cookie. "
                      "- max_age (Optional[int]) – should be a number of seconds.")
    assert pairs["What is the `key` parameter of `flask.Response.set_cookie` for?"].answer == \
        "key (str) – the key (name) of the cookie to be set."
    # A version note says what changed, not what the parameter does.
    pairs, _ = _pairs(["API", "Response Objects", "freeze()"],
                      "Make the response object ready to be pickled.\n\nChanged in version 2.0: An ETag header is "
                      "added, the no_etag parameter is deprecated and will be removed in Werkzeug 2.1.")
    assert not any("no_etag" in q for q in pairs)
    # dict.pop's inherited docstring.
    pairs, _ = _pairs(["API", "class flask.sessions.NullSession(initial=None)", "flask.sessions.NullSession.pop"],
                      "If the key is not found, return the default if given; otherwise, raise a KeyError.")
    assert not pairs
    # "such an application": which one, only the page says ("such as" is fine).
    pairs, _ = _pairs(["Application Factories", "Using Applications"],
                      "To run such an application, you can use the flask command:\n\n```\n$ flask run --app hello\n```"
                      "\n\nTo serve static files such as images and stylesheets, create a folder called static next to the "
                      "module.")
    assert "How do I run such an application?" not in pairs
    assert "How do I serve static files such as images and stylesheets?" in pairs
    # An example of the situation does not answer the question the text asks.
    pairs, _ = _pairs(["Deferred Request Callbacks"],
                      "What happens if you want to modify the response at a point where the response does not exist "
                      "yet? A common example for that would be a before_request() callback that sets a cookie.")
    assert not any(q.startswith("What happens if") for q in pairs)
    # A how-to answered by what the task means.
    pairs, _ = _pairs(["Make the Project Installable"],
                      "Making your project installable means that you can build a distribution file and install "
                      "that in another environment, just like you installed Flask in your project’s environment.")
    assert not any(q.lower().startswith("how do i make the project installable") for q in pairs)
    # A docstring that only says when a function runs answers when it is called, not what it does.
    pairs, _ = _pairs(["API", "Session Interface", "save_session(app, session, response)"],
                      "This is called at the end of each request, after generating a response, before removing the "
                      "request context. It is skipped if is_null_session() returns True.")
    assert "What does `save_session()` do?" not in pairs
    assert pairs["When is `save_session()` called?"].answer.startswith("This is called at the end of each request")
    # "If you call X you will get back Y, even if ...": the comma does not end the condition.
    pairs, _ = _pairs(["API", "Response Objects", "classmethod force_type(response, environ=None)"],
                      "Enforce that the WSGI response is a response object of the current type. If you call "
                      "get_response() on an exception you will get back a regular Response object, even if you are "
                      "using a custom subclass.")
    assert not any(q.startswith("What happens if") for q in pairs)



def test_a_reason_that_comes_first_asks_why():
    pairs, _ = _pairs(["Extension Development", "Data During a Request"],
                      "Since g is a single global namespace, extensions must use unique names that won’t collide "
                      "with user data. Since version 2.0, the loader caches templates.")
    assert pairs["Why must extensions use unique names that won’t collide with user data?"].answer.startswith("Since g")
    assert not any("loader" in question for question in pairs)  # "Since version 2.0": when, not why
    pairs, _ = _pairs(["Handling Application Errors"], "Since HTTPException instances are valid WSGI responses, you "
                                                       "could also pass them through directly.")
    assert not pairs  # "them": what the reason named


def test_a_passive_means_with_a_place_asks_how_from_there():
    pairs, _ = _pairs(["Development Server", "In Code"],
                      "The development server can also be started from Python with the Flask.run() method. "
                      "The widget can also be used with other servers.")
    assert "How can the development server be started from Python?" in pairs
    assert not any("widget" in question for question in pairs)  # one more use, no how-to


def test_a_term_that_means_something_asks_what_it_means():
    pairs, _ = _pairs(["Install the Project"],
                      "Editable mode means that as you make changes to your local code, you only need to re-install "
                      "if you change the metadata. Installing means you can import it no matter where you run from.")
    assert pairs["What does editable mode mean?"].kind == "what-is"
    assert not any("installing" in question.lower() for question in pairs)


def test_a_list_flattened_into_its_paragraph_is_read_item_by_item():
    pairs, _ = _pairs(["Application Setup", "The Application Factory"],
                      "You’ll learn more about the database in the next section. - os.makedirs() ensures that "
                      "app.instance_path exists. - app.config.from_mapping() sets some default configuration.")
    assert pairs["What does `app.config.from_mapping()` do?"].answer.startswith("app.config.from_mapping() sets")
    # A standard-library call is described by what the page uses it for, not by what it does.
    assert "What does `os.makedirs()` do?" not in pairs


def test_what_a_named_thing_will_do_if_something_holds_asks_when():
    pairs, _ = _pairs(["Application Factories", "Using Applications"],
                      "Flask will automatically detect a factory function if it is named create_app or make_app. "
                      "Flask will detect and use them if you install them.")
    assert pairs["When does Flask automatically detect a factory function?"].kind == "what-happens"
    assert not any("use them" in question for question in pairs)


def _cut_section_pairs(path, before, text):
    """The pairs of a section's second chunk, when chunking cut the section after ``before``."""
    chunks = [ChunkInput(number, path[0], tuple(path), " > ".join(path) + "\n\n" + body, first_of_section=number == 1,
                         vocabulary=FLASK_DOCS) for number, body in ((1, before), (2, text))]
    results = StructuralGenerator().generate_section(chunks)
    return {c.question: c for c in results[1].candidates}


def test_code_cut_from_the_sentence_that_introduces_it_is_asked_about_with_that_sentence():
    code = "```\nclass ChecksumCalcStream(object):\n    def __init__(self, stream):\n        self._stream = stream\n```"
    intro = ("The following example calculates the SHA1 checksum of the incoming data as it gets read and stores it "
             "in the WSGI environment:")
    pairs = _cut_section_pairs(["Request Content Checksums"], intro, code + "\n\nTo use this, hook the stream in.")
    example = pairs["How do I calculate the SHA1 checksum of the incoming data?"]
    assert example.answer.startswith(intro) and "class ChecksumCalcStream" in example.answer
    # The introduction's own text-only pairs belong to the chunk it is in.
    assert _cut_section_pairs(["Request Content Checksums"], intro, "Some prose about streams, and nothing else.") == {}


def test_a_thing_that_looks_like_the_code_asks_what_it_looks_like():
    pairs, _ = _pairs(["Template Inheritance", "Child Template"],
                      "A child template might look like this:\n\n```\n{% extends \"layout.html\" %}\n```")
    assert "{% extends" in pairs["What does a child template look like?"].answer
    pairs, _ = _pairs(["Patterns", "Results"], "The result would look like this:\n\n```\n{'a': 1}\n```")
    assert not any("look like" in question for question in pairs)  # which result, only the page says


def test_a_heading_naming_what_the_code_defines_asks_how_to_write_it():
    caching = "```\ndef cached(timeout=5 * 60, key='view/{}'):\n    def decorator(f):\n        return f\n    return decorator\n```"
    pairs = _cut_section_pairs(["View Decorators", "Caching Decorator"], "Here the code:", caching)
    assert "def cached" in pairs["How do I write a caching decorator?"].answer
    usage = "```\n@app.route('/')\n@templated('index.html')\ndef index():\n    return dict(value=42)\n```"
    pairs, _ = _pairs(["View Decorators", "Templating Decorator"], "The following examples do the same:\n\n" + usage)
    assert "How do I write a templating decorator?" not in pairs  # code that uses it does not show how to write it


def test_a_feature_the_page_names_asks_when_it_is_on_and_what_happens_under_a_condition():
    pairs, _ = _pairs(["Debugging Application Errors", "The Built-In Debugger"],
                      "The debugger is enabled by default when the development server is run in debug mode.")
    assert pairs["When is the debugger enabled by default?"].kind == "what-happens"
    pairs, _ = _pairs(["Debugging Application Errors", "External Debuggers"],
                      "If the built-in debugger is not disabled, it will catch unhandled exceptions before the "
                      "external debugger can. If the reloader is not disabled, it could cause an unexpected reload.")
    assert "What happens if the built-in debugger is not disabled?" in pairs
    assert not any("reloader" in question for question in pairs)  # the page is not about a reloader
    pairs, _ = _pairs(["Patterns", "Caching"], "The result is cached when the view returns a response object.")
    assert not pairs  # which result, only the page says


def test_a_sentence_opening_with_a_lowercase_code_name_is_a_sentence_of_its_own():
    pairs, _ = _pairs(["Make the Project Installable", "Describe the Project"],
                      "packages tells Python what package directories to include. find_packages() finds the package "
                      "directories automatically so you don’t have to type them out.")
    assert pairs["What does `find_packages()` do?"].answer.startswith("find_packages() finds")


def test_what_the_page_is_about_is_useful_when_asks_when():
    pairs, _ = _pairs(["Using URL Processors"], "URL processors are especially helpful when combined with blueprints.")
    assert "When are URL processors especially helpful?" in pairs
    pairs, _ = _pairs(["Using URL Processors"], "Filters are especially helpful when combined with blueprints.")
    assert not pairs  # filters are not what the page is about


def test_a_project_layout_item_asks_what_the_directory_or_file_is():
    pairs, _ = _pairs(["Project Layout"], "- flaskr/, a Python package containing your application code and files.\n"
                      "- setup.py, a script telling Python how to install the project.\n"
                      "- venv/, a virtual environment where Flask and other dependencies are installed.")
    assert pairs["What is the `flaskr/` directory?"].answer.startswith("flaskr/, a Python package")
    assert "What is the `setup.py` file?" in pairs
    assert not any("venv" in question for question in pairs)  # "other dependencies": other than what?


def test_code_introduced_by_an_instruction_that_leans_on_the_page_is_not_asked():
    pairs, _ = _pairs(["Define and Access the Database", "Create the Tables"],
                      "Add the Python functions that will run these SQL commands to the db.py file:\n\n"
                      "```\ndef init_db():\n    db = get_db()\n```")
    assert not any("these SQL commands" in question for question in pairs)
    pairs, _ = _pairs(["Quickstart", "Rendering Templates"], "Templates are especially useful if inheritance is used.")
    assert "When are templates especially useful?" in pairs


def test_it_asks_nothing_of_page_wide_conditions_purposes_or_entries_that_repeat_their_name():
    pairs, _ = _pairs(["Form Validation with WTForms"], "When you are working with WTForms you have to define your "
                      "forms as classes first.")
    assert not pairs  # everything on the page happens "when working with WTForms"
    pairs, _ = _pairs(["Templates"], "Special delimiters are used to distinguish Jinja syntax from the static data.")
    assert not pairs  # what they are for, not what they are
    pairs, _ = _pairs(["Deploying", "ASGI"], "You can use the adapter by wrapping the Flask app,\n\n```\nx = 1\n```")
    assert not any("adapter" in question for question in pairs)
    pairs, _ = _pairs(["Quickstart", "Message Flashing"], "To flash a message use the flash() method, to get hold of "
                      "the messages you can use get_flashed_messages().")
    assert not any("use the flash" in question for question in pairs)
    pairs, _ = _pairs(["Extensions", "Finding Extensions"], "You can search PyPI for packages tagged with Framework :: "
                      "Flask.")
    assert not any(question.endswith("tagged?") for question in pairs)
    pairs, _ = _pairs(["API", "Application Object", "shell_context_processor(f)"],
                      "Registers a shell context processor function.\n\nNew in version 0.11.")
    assert not pairs  # the docstring repeats the name


def test_it_still_asks_of_real_means_entries_and_general_descriptions():
    pairs, _ = _pairs(["Command Line Interface", "Disable dotenv"], "You can tell Flask not to load dotenv files even "
                      "when python-dotenv is installed by setting the FLASK_SKIP_DOTENV environment variable.")
    assert "How do I tell Flask not to load dotenv files even when python-dotenv is installed?" in pairs
    pairs, _ = _pairs(["API", "Application Object", "handle_http_exception(e)"],
                      "Handles an HTTP exception. By default this will invoke the registered error handlers and fall "
                      "back to returning the exception as response.")
    assert "What does `handle_http_exception()` do?" in pairs
    pairs, _ = _pairs(["Testing Flask Applications", "Setup and Fixtures"], "tempfile.mkstemp() creates and opens a "
                      "temporary file, returning the file descriptor and the path to it.")
    assert "What does `tempfile.mkstemp()` do?" in pairs  # a stdlib call described in general terms
    pairs, _ = _pairs(["API", "Response Objects", "property pragma"], "The Pragma general-header field is used to "
                      "include implementation-specific directives that might apply to any recipient.")
    assert "What is the Pragma general-header field?" in pairs


def test_it_keeps_code_in_how_to_answers_and_skips_pointers_elsewhere():
    pairs, _ = _pairs(["Define and Access the Database", "Initialize the Database File"],
                      "Now that init-db has been registered with the app, it can be called using the flask command.\n\n"
                      "Note\n\nIf you’re still running the server, stop it.\n\nRun the init-db command:\n\n"
                      "```\n$ flask --app flaskr init-db\nInitialized the database.\n```")
    assert "flask --app flaskr init-db" in pairs["How do I initialize the database file?"].answer
    pairs, _ = _pairs(["eventlet", "Running"], "To use eventlet to serve your application, write a script that imports "
                      "its wsgi.server, as well as your app or app factory.\n\nwsgi.py\n\n```\nimport eventlet\n```")
    assert "import eventlet" in pairs["How do I use eventlet to serve my application?"].answer
    pairs, _ = _pairs(["Templates", "Register"], "flaskr/templates/auth/register.html\n\n```\n{% extends 'base.html' %}"
                      "\n```\n\n{% extends 'base.html' %} tells Jinja that this template should replace the blocks.")
    assert "How do I register templates?" not in pairs  # the register page's template
    pairs, _ = _pairs(["Templates"], "If you want information on the template engine’s syntax itself, head over to "
                      "the official Jinja2 Template Documentation for more information.")
    assert not pairs  # the answer is elsewhere
    pairs, _ = _pairs(["Modular Applications with Blueprints", "Why Blueprints?"], "Blueprints in Flask are intended "
                      "for these cases: - Factor an application into a set of blueprints. - Register a blueprint on an "
                      "application at a URL prefix. - Provide template filters through blueprints.")
    assert pairs["Why Blueprints?"].answer.endswith("- Provide template filters through blueprints.")


def test_it_names_an_entry_by_its_owner_only_where_the_heading_gives_one():
    pairs, _ = _pairs(["API", "Useful Internals", "property range: Optional[Range]"], "The parsed Range header, as the client sent it.")
    assert not pairs  # which `range`, only the page says
    pairs, _ = _pairs(["API", "Incoming Request Data", "property range: Optional[Range]"], "The parsed Range header, as the client sent it.")
    assert "What is `range` in incoming request data?" in pairs  # the heading above names what it belongs to
    pairs, _ = _pairs(["API", "Application Object", "route(rule, **options)"], "Decorate a view function to register "
                      "it with the given URL rule and options.")
    assert "What does `route()` do in the application object?" in pairs
    pairs, _ = _pairs(["API", "Useful Internals", "copy()"], "Creates a copy of this request context with the same "
                      "request object.")
    assert not pairs
    pairs, _ = _pairs(["API", "Application Object", "property got_first_request: bool"], "This attribute is set to "
                      "True if the application started handling the first request.")
    assert "What is `got_first_request`?" in pairs  # a distinctive name stands alone
    pairs, _ = _pairs(["Design Decisions in Flask", "What does “micro” mean?"], "“Micro” does not mean that your whole "
                      "web application has to fit into a single Python file, nor does it mean that Flask is lacking in "
                      "functionality. The “micro” in microframework means Flask aims to keep the core simple but "
                      "extensible.")
    assert "keep the core simple" in pairs["What does “micro” mean?"].answer
    pairs, _ = _pairs(["Configuration Handling", "From Files"], "Make sure to load the configuration very early on, so "
                      "that extensions have the ability to access the configuration when starting up.")
    assert "How do I access the configuration when starting up?" not in pairs
    pairs, _ = _pairs(["Command Line Interface", "Registering Commands with Blueprints"], "You can alter the group "
                      "name by specifying the cli_group parameter when creating the Blueprint object.")
    assert not any("group name" in question for question in pairs)
    pairs, _ = _pairs(["Deploy to Production", "Build and Install"], "When you want to deploy your application "
                      "elsewhere, you build a distribution file.\n\n```\n$ pip install wheel\n```")
    assert "How do I build and install?" not in pairs
    pairs, _ = _pairs(["Form Validation with WTForms"], "When you have to work with form data submitted by a browser "
                      "view, code quickly becomes very hard to read.")
    assert list(pairs) == ["When is form validation with WTForms useful?"]  # no "What happens when ...": the problem


def test_a_reader_who_likes_an_idea_is_no_situation_to_act_in():
    pairs, _ = _pairs(["Command Line Interface", "Further Improving the Shell Experience"], "If you like the idea of "
                      "experimenting in a shell, create a module with things you want to star import into your "
                      "interactive session.")
    assert not any("like the idea" in question for question in pairs)


def test_a_question_about_something_only_its_page_names_is_not_asked():
    pairs, _ = _pairs(["Define and Access the Database", "Create the Tables"], "Create a file with the SQL commands "
                      "needed to create empty tables, then run them.\n\n```\nCREATE TABLE user (id INTEGER);\n```")
    assert not any("the tables" in question for question in pairs)
    assert not any(question.startswith("In “") for question in pairs)
    from docsbot.qa.generators.page_context import leans_on_page

    names = ("Debugging Application Errors", "The Built-In Debugger")
    assert not leans_on_page("When is the debugger enabled by default?", names)  # named by the page
    assert not leans_on_page("What does the `region` option do?", names)  # a code name
    assert not leans_on_page("How do I run the application?", names)  # every page's application
    assert leans_on_page("How do I get the header value?", ("Quickstart", "About Responses"))
    assert leans_on_page("How do I preserve the contexts until the with block exits?", ("Testing Flask Applications",))


def test_it_asks_nothing_of_placeholder_names_or_parameters_an_entry_repeats():
    pairs, _ = _pairs(["Modular Applications with Blueprints", "Why Blueprints?"], "Blueprints in Flask are intended "
                      "for these cases:\n\n- Factor an application into a set of blueprints.\n\n- Register a blueprint "
                      "on an application at a URL prefix.\n\n- Provide template filters through blueprints.")
    assert pairs["Why Blueprints?"].answer.endswith("- Provide template filters through blueprints.")
    pairs, _ = _pairs(["Using the Application Context", "Storing Data"], "get_X() creates resource X if it does not "
                      "exist, caching it as g.X.")
    assert not any("get_X" in question for question in pairs)  # X stands for the reader's resource
    pairs, _ = _pairs(["API", "Command Line Interface", "make_context(info_name, args, parent=None, **extra)"],
                      "This function when given an info name and arguments will kick off the parsing.\n\n"
                      "- info_name – the info name for this invocation.\n- args – the arguments to parse as list.")
    assert not any("info_name" in question for question in pairs)  # the entry repeats the name


def test_it_asks_nothing_of_object_reprs_or_sentinel_defaults():
    pairs, _ = _pairs(["API", "Sessions", "serializer = <flask.json.tag.TaggedJSONSerializer object>"],
                      "A python serializer for the payload. The default is a compact JSON derived serializer.")
    assert not any("serializer" in question for question in pairs)
    pairs, _ = _pairs(["API", "Application Globals", "pop(name, default=<object object>)"], "Get and remove an "
                      "attribute by name. Like dict.pop().\n\n- name (str) – Name of attribute to pop.\n- default – "
                      "Value to return if the attribute is not present.")
    assert not any("parameter of `pop`" in question for question in pairs)


def test_it_asks_nothing_of_general_terms_a_page_only_uses():
    pairs, _ = _pairs(["Blog Blueprint", "Index"], "A JOIN is used so that the author information from the user table "
                      "is available in the result.")
    assert "What is a JOIN?" not in pairs
    pairs, _ = _pairs(["The Application Context", "Storing Data"], "The application context is a good place to store "
                      "common data during a request or CLI command. Flask provides the g object for this purpose.")
    assert all(not question.startswith("How do I store data") for question in pairs)


def test_it_asks_nothing_of_hedged_how_tos_or_changelog_notes():
    pairs, _ = _pairs(["Extensions", "Building Extensions"], "While PyPI contains many Flask extensions, you may not "
                      "find one that fits. Read Flask Extension Development to develop your own Flask extension.")
    assert not any("extension" in question.lower() and question.startswith("How do I develop") for question in pairs)
    pairs, _ = _pairs(["API", "Useful Functions and Classes", "flask.send_file(path_or_file)"], "Send the contents of "
                      "a file to the client.\n\nChanged in version 0.12: The filename is no longer automatically "
                      "inferred from file objects. If you want to use automatic MIME and etag support, pass a filename "
                      "via filename_or_fp or attachment_filename.")
    assert not any("MIME" in question for question in pairs)  # a changelog note is history, not current use


def test_it_asks_nothing_of_list_fragments_page_names_or_conditions_without_an_outcome():
    pairs, _ = _pairs(["Keep Developing!"], "- Upload an image to go along with a post.\n- Add tags to a post.")
    assert "How do I go along with a post?" not in pairs
    pairs, _ = _pairs(["JavaScript", "Making a Request"], "If you want to return another JSON type, use the jsonify() "
                      "function, which creates a response object with the given data serialized to JSON.")
    assert not any("another" in question for question in pairs)
    pairs, _ = _pairs(["Quickstart", "File Uploads"], "You can handle uploaded files with Flask easily. Just make sure "
                      "not to forget to set the enctype attribute on your HTML form.")
    assert "How do I handle uploaded files?" not in pairs  # "with Flask easily" is no means
    pairs, _ = _pairs(["Configuration", "Builtin Values"], "If session.permanent is true, the cookie’s expiration will "
                      "be set this number of seconds in the future.")
    assert not any(question.startswith("What happens") for question in pairs)
    pairs, _ = _pairs(["Signals", "Subscribing"], "When you subscribe to a signal, be sure to also provide a sender "
                      "unless you really want to listen for signals from all applications.")
    assert "What should you do when you subscribe to a signal?" in pairs
    pairs, _ = _pairs(["Templates", "Log In"], "This is identical to the register template except for the title and "
                      "submit button.\n\n```\n{% extends 'base.html' %}\n```")
    assert "How do I log in?" not in pairs
    pairs, _ = _pairs(["API", "Response Objects", "default_mimetype: t.Optional[str] = 'text/html'"],
                      "the default mimetype if none is provided.")
    assert not pairs


def test_it_answers_a_config_value_with_its_whole_description():
    pairs, _ = _pairs(["Configuration Handling", "Builtin Configuration Values", "TRAP_BAD_REQUEST_ERRORS"],
                      "Trying to access a key that doesn’t exist from request dicts like args and form will return a "
                      "400 Bad Request error page. Enable this to treat the error as an unhandled exception instead "
                      "so that you get the interactive debugger.\n\nDefault: None")
    answer = pairs["What does the `TRAP_BAD_REQUEST_ERRORS` configuration value do?"].answer
    assert "Enable this to treat the error" in answer and answer.endswith("Default: None")


def test_it_answers_an_api_with_its_own_description_after_background():
    pairs, _ = _pairs(["API", "Stream Helpers", "flask.stream_with_context(generator_or_function)"],
                      "Request contexts disappear when the response is started on the server. The downside is that "
                      "the generator cannot access request bound information any more.\n\nThis function however can "
                      "help you keep the context around for longer:\n\n```\n@stream_with_context\ndef generate():\n"
                      "    yield request.args['name']\n```")
    answer = pairs["What does `flask.stream_with_context()` do?"].answer
    assert answer.startswith("This function however can help you keep the context") and "```" in answer
    pairs, _ = _pairs(["API", "Application Object", "before_first_request(f)"], "Registers a function to be run "
                      "before the first request to this instance of the application.\n\nThis function will be "
                      "called without any arguments.")
    assert pairs["What does `before_first_request()` do?"].answer.startswith("Registers a function")


def test_it_asks_a_cut_section_heading_where_its_code_is():
    intro = ("Some HTTP proxies do not support newer HTTP methods. The way this works is by letting the client set the "
             "X-HTTP-Method-Override header.\n\nThis can be accomplished with an HTTP middleware:")
    code = ("```\nclass HTTPMethodOverrideMiddleware(object):\n    def __init__(self, app):\n        self.app = app\n"
            "```")
    pairs = _cut_section_pairs(["Adding HTTP Method Overrides"], intro, code)
    answer = pairs["How do I add HTTP method overrides?"].answer
    assert "This can be accomplished with an HTTP middleware:" in answer and "class HTTPMethod" in answer
    # A section that ends before the code it announces is not asked with the introduction alone.
    pairs, _ = _pairs(["Adding HTTP Method Overrides"], intro)
    assert "How do I add HTTP method overrides?" not in pairs


def test_it_asks_list_item_steps_and_drops_answers_cut_at_their_colon():
    pairs, _ = _pairs(["Form Validation with WTForms", "In the View"], "Things to remember:\n\n- to access individual "
                      "values from the form, access form.<NAME>.data.")
    assert pairs["How do I access individual values from the form with WTForms?"].answer == ("To access individual values from "
                                                                                 "the form, access form.<NAME>.data.")
    pairs, _ = _pairs(["Define and Access the Database", "Create the Tables"], "Create a file with the SQL commands "
                      "needed to create empty tables:")
    assert not any("empty tables" in question for question in pairs)
    pairs, _ = _pairs(["Quickstart", "Redirects and Errors"], "If you want to customize the error page, you can use "
                      "the errorhandler() decorator:")
    assert "How do I customize the error page?" in pairs  # names its means before the cut
    pairs, _ = _pairs(["Tutorial 1: Serialization", "Using ModelSerializers"], "Our SnippetSerializer class is "
                      "replicating a lot of information that's also contained in the Snippet model. Open the file "
                      "snippets/serializers.py again, and replace the SnippetSerializer class with the following.")
    assert not any("the following" in c.answer for c in pairs.values())  # a full stop where the colon was


def test_it_drops_relative_subjects_and_partial_whens():
    pairs, _ = _pairs(["Security Considerations", "Set-Cookie options"], "If neither option is set, the cookie will "
                      "be removed when the browser is closed.")
    assert not pairs
    pairs, _ = _pairs(["The Application Context", "Lifetime of the Context"], "Flask will also automatically push an "
                      "app context when running CLI commands registered with Flask.cli using @app.cli.command().")
    assert not any(question.startswith("When does Flask") for question in pairs)
    pairs, _ = _pairs(["Handling Application Errors", "Non-standard Codes"], "Non-standard HTTP codes cannot be "
                      "registered by code because they are not known by Werkzeug.")
    assert not any(question.startswith("Why does") for question in pairs)


def test_it_asks_about_template_tags_roles_tricks_and_what_a_pronoun_names():
    pairs, _ = _pairs(["Templates", "The Base Layout"], "There are three blocks defined here:\n\n- {% block title %} "
                      "will change the title displayed in the browser’s tab and window title.\n- {% block content %} "
                      "is where the content of each page goes, such as the login form or a blog post.")
    assert not any("{% block" in question for question in pairs)  # a block is the page's template's
    pairs, _ = _pairs(["Lazily Loading Views"], "The system that enables having a central URL map is the "
                      "add_url_rule() function. Instead of using decorators, you have a file that sets up the "
                      "application with all URLs.")
    assert pairs["What enables having a central URL map?"].answer.startswith("The system that enables")
    pairs, _ = _pairs(["Lazily Loading Views", "Loading Late"], "The trick is to actually load view functions as "
                      "needed. This can be accomplished with a helper class that imports the real function on first "
                      "use:\n\n```\nclass LazyView(object):\n    pass\n```")
    answer = pairs["How do I load view functions as needed?"].answer
    assert "helper class" in answer and "class LazyView" in answer
    pairs, _ = _pairs(["Using URL Processors", "Internationalized Application URLs"], "The reverse of that function "
                      "are url_value_preprocessor()s. They are executed right after the request was matched and can "
                      "execute code based on the URL values.")
    # The sentence before leans on its own before ("that function"): the answer names the API in the pronoun's place.
    assert pairs["When are `url_value_preprocessor()` functions executed?"].answer.startswith(
        "url_value_preprocessor() functions are executed right after")
    pairs, _ = _pairs(["Define and Access the Database", "Connect to the Database"], "g is a special object that is "
                      "unique for each request. It is used to store data that might be accessed by multiple "
                      "functions during the request.")
    assert pairs["What is `g` used for?"].answer.startswith("g is a special object")
    pairs, _ = _pairs(["Sessions", "Notes"], "Sessions use cookies and signatures. It is used to store data across "
                      "requests.")
    assert not any("used for" in question for question in pairs)  # no single name for "It" to stand for


def test_it_asks_when_a_page_technique_is_useful_from_the_problem_it_opens_on():
    pairs, _ = _pairs(["Adding HTTP Method Overrides"], "Some HTTP proxies do not support arbitrary HTTP methods or "
                      "newer HTTP methods (such as PATCH). In that case it’s possible to “proxy” HTTP methods through "
                      "another HTTP method.")
    assert pairs["When is adding HTTP method overrides useful?"].answer.startswith("Some HTTP proxies do not support")
    pairs, _ = _pairs(["Request Content Checksums"], "Various pieces of code can consume the request data. This seems "
                      "inconvenient when you want to calculate the checksum of the incoming request data.")
    assert "When are request content checksums useful?" in pairs
    pairs, _ = _pairs(["Security Considerations"], "Web applications usually face all kinds of security problems and "
                      "it’s very hard to get everything right.")
    assert not any(question.endswith("useful?") for question in pairs)  # no technique, and no problem it solves
    pairs, _ = _pairs(["Uploading Files"], "Ah yes, the good old problem of file uploads. The basic idea of file "
                      "uploads is actually quite simple.")
    assert not any(question.endswith("useful?") for question in pairs)


def test_it_reads_a_pronoun_that_points_inside_its_own_instruction():
    pairs, _ = _pairs(["Project Layout"], "Create a project directory and enter it:\n\n```\n$ mkdir flask-tutorial\n"
                      "$ cd flask-tutorial\n```")
    assert "mkdir flask-tutorial" in pairs["How do I create a project directory and enter it?"].answer
    pairs, _ = _pairs(["Project Layout"], "Then install them both:\n\n```\n$ pip install a b\n```")
    assert not pairs


def test_it_asks_about_apis_a_sentence_names_after_its_opening_words():
    pairs, _ = _pairs(["Class-based Views", "Method Dispatching"], "MethodView extends the basic View to dispatch to "
                      "different methods of the class based on the request method.")
    assert "What does `MethodView` do?" in pairs  # a CamelCase class name is a code name
    pairs, _ = _pairs(["Class-based Views", "Method Hints"], "Setting View.methods is equivalent to passing the list of "
                      "methods to add_url_rule or route.")
    assert "What does setting `View.methods` do?" in pairs
    pairs, _ = _pairs(["Class-based Views", "Basic Reusable View"], "The View.dispatch_request() method is the "
                      "equivalent of the view function. The first argument to as_view is the name to use to refer to "
                      "the view with url_for().")
    assert "What is the `View.dispatch_request()` method?" in pairs
    assert not any("first argument" in question for question in pairs)  # "The ...": the page's subject's
    pairs, _ = _pairs(["API", "Sessions"], "Setting SERVER_NAME does not implicitly enable it. The route() decorator "
                      "is the one you probably used already. SecureCookieSessionInterface uses this to serialize the "
                      "session data.")
    assert not pairs
    pairs, _ = _pairs(["JavaScript", "Rendering"], "JavaScript runs in the browser and renders the page.")
    assert not any("`JavaScript`" in question for question in pairs)  # a product, not a class


def test_it_trims_an_answer_cut_at_its_colon_and_keeps_code_whole():
    pairs, _ = _pairs(["Templates", "Context Processors"], "A context processor is a function that returns a "
                      "dictionary. The keys and values of this dictionary are then merged with the template context, "
                      "for all templates in the app:")
    merged = ("A context processor is a function that returns a dictionary. The keys and values of this dictionary "
              "are then merged with the template context, for all templates in the app.")
    assert {c.answer for c in pairs.values()} == {merged}  # the colon's sentence says its point: a full stop
    pairs, _ = _pairs(["Configuration Handling", "Builtin Configuration Values", "SECRET_KEY"], "A secret key used "
                      "for signing the session cookie. For example, copy the output of this to your config:\n\n"
                      "Default: None")
    assert "copy the output" not in pairs["What does the `SECRET_KEY` configuration value do?"].answer
    code = "\n".join(f"    line_{n} = compute({n})" for n in range(60))
    pairs, _ = _pairs(["Checksums"], f"The following example calculates the SHA1 checksum of the incoming data:\n\n"
                      f"```\ndef checksum():\n{code}\n```")
    answer = pairs["How do I calculate the SHA1 checksum of the incoming data?"].answer
    assert answer.endswith("...\n```") and answer.count("```") == 2 and len(answer) <= 1400
    assert all(line.startswith(("    line_", "def ", "...", "```", "The following")) for line in answer.splitlines()
               if line)


def test_it_answers_an_attribute_past_its_value_and_skips_options_that_only_give_the_default():
    pairs, _ = _pairs(["API", "Tagged JSON", "class flask.json.tag.TaggedJSONSerializer",
                       "flask.json.tag.TaggedJSONSerializer.default_tags"],
                      "default_tags = [<class 'flask.json.tag.TagDict'>]\n\nTag classes to bind when creating the "
                      "serializer.")
    assert [c.answer for c in pairs.values()] == ["Tag classes to bind when creating the serializer."]
    pairs, _ = _pairs(["API", "URL Route Registrations", "add_url_rule(rule, endpoint=None)"], "Register a rule for "
                      "routing incoming requests.\n\nThe methods parameter defaults to [\"GET\"]. HEAD is always "
                      "added automatically.")
    assert not any("`methods`" in question for question in pairs)


def test_it_names_the_product_of_its_page_in_a_how_to():
    pairs, _ = _pairs(["Gunicorn", "Running"], "To show access logs on stdout, use the --access-logfile=- option.")
    assert "How do I show access logs on stdout with Gunicorn?" in pairs
    pairs, _ = _pairs(["JavaScript, fetch, and JSON", "Receiving JSON"], "Use the json property of the request object "
                      "to decode the request’s body as JSON.")
    assert "How do I decode the request’s body as JSON?" in pairs  # the page is about using JavaScript with Flask


def test_a_to_do_sentence_may_name_its_object_with_a_relative_that_but_not_point_back_with_one():
    pairs = _git_pairs(["gitignore(5)", "NOTES"], "The purpose of gitignore files is to ensure that certain files not "
                       "tracked by Git remain untracked.\n\nTo stop tracking a file that is currently tracked, use git "
                       "rm --cached.")
    assert "How do I stop tracking a file that is currently tracked?" in pairs
    pointing, _ = _pairs(["Patterns", "Caching"], "To make sure that works with every backend, set the timeout.")
    assert not any(question.startswith("How do I make sure") for question in pointing)
    state, _ = _pairs(["Advanced Usage", "Prepared Requests"], "To get a PreparedRequest with that state applied, "
                      "replace the call to Request.prepare() with a call to Session.prepare_request().")
    assert not state  # "that state" is the one the text before described


def test_it_asks_nothing_of_raises_entries_special_values_or_bare_command_lines():
    pairs, _ = _pairs(["API", "Tagged JSON", "register(tag_class, force=False, index=None)"], "Register a new tag "
                      "with this serializer.\n\n- KeyError – if the tag key is already registered and force is not "
                      "true.")
    assert not any("`tag` key" in question for question in pairs)  # a Raises entry names no option
    pairs, _ = _pairs(["Configuration Handling", "Debug Mode"], "The DEBUG config value is special because it may "
                      "behave inconsistently if changed after the app has begun setting up.")
    assert not any("`DEBUG`" in question for question in pairs)
    pairs, _ = _pairs(["Deploying to Production", "Binding Externally"], "You can bind to all external IPs on a "
                      "non-privileged port by using 0.0.0.0 in the server arguments shown in the previous section.")
    assert not pairs


def test_it_names_what_a_short_instruction_leans_on_in_its_own_sentence_or_code():
    pairs, _ = _pairs(["Large Applications as Packages", "Simple Packages"], "Install your application so it is "
                      "importable:\n\n```\n$ pip install -e .\n```")
    assert "pip install -e ." in pairs["How do I install my application so it is importable?"].answer
    pairs, _ = _pairs(["Adding HTTP Method Overrides"], "```\nclass HTTPMethodOverrideMiddleware(object):\n    pass\n"
                      "```\n\nTo use this with Flask, wrap the app object with the middleware:\n\n```\n"
                      "app.wsgi_app = HTTPMethodOverrideMiddleware(app.wsgi_app)\n```")
    assert "app.wsgi_app = HTTPMethodOverrideMiddleware" in pairs[
        "How do I use `HTTPMethodOverrideMiddleware` with Flask?"].answer
    pairs, _ = _pairs(["Checksums"], "```\nclass ChecksumCalcStream(object):\n    pass\n\nclass Other(object):\n"
                      "    pass\n```\n\nTo use this, hook the calculating stream in before the request starts.")
    assert not any("`" in question for question in pairs)  # two classes: which one "this" is, the text does not say
    # "a row factory function is useful" names a means but not how to use it: no how-to.
    pairs, _ = _pairs(["Using SQLite 3 with Flask", "Easy Querying"], "To simplify working with SQLite, a row factory "
                      "function is useful. It is executed for every result returned from the database to convert it.")
    assert "How do I simplify working with SQLite?" not in pairs


def test_it_asks_what_a_named_thing_does_not_do_as_a_yes_no_question():
    pairs, _ = _pairs(["Design Decisions in Flask", "What Flask is"], "Flask will never have a database layer. It will "
                      "not have a form library or anything else in that direction.")
    assert pairs["Will Flask ever have a database layer?"].answer.endswith("anything else in that direction.")
    pairs, _ = _pairs(["Design Decisions in Flask", "Thread Locals"], "However Flask is just not designed for large "
                      "applications or asynchronous servers.")
    assert "Is Flask designed for large applications or asynchronous servers?" in pairs
    pairs, _ = _pairs(["JavaScript, fetch, and JSON"], "JSON cannot represent binary data directly, so it must be base64 "
                      "encoded, which can be slow.")
    assert pairs["Can JSON represent binary data directly?"].answer.startswith("JSON cannot represent binary data")
    pairs, _ = _pairs(["Application Dispatching"], "Note that run_simple is not intended for use in production.")
    assert "Is run_simple intended for use in production?" in pairs
    # A pronoun subject, "to be confused with", a lowercase word that is no code: no question of their own.
    for text in ("This does not have to be a response object.", "This is not to be confused with flask.session.",
                 "Sessions is not to be confused with the session proxy.", "flask does not start the server here."):
        pairs, _ = _pairs(["API"], text)
        assert not any(question.startswith(("Does", "Is", "Can")) for question in pairs), text


def test_it_asks_which_named_thing_is_used_how_it_works_and_where_things_are_kept():
    pairs, _ = _pairs(["Templates"], "Flask uses the Jinja template library to render templates.")
    assert "Which template library does Flask use?" in pairs
    pairs, _ = _pairs(["Design Decisions in Flask", "Async"], "Flask supports async coroutines for view functions by "
                      "executing the coroutine on a separate thread instead of using an event loop on the main thread.")
    assert pairs["How does Flask support async coroutines for view functions?"].kind == "what-is"
    pairs, _ = _pairs(["Quickstart", "File Uploads"], "Uploaded files are stored in memory or at a temporary location "
                      "on the filesystem. Each uploaded file is stored in that dictionary.")
    assert "Where are uploaded files stored?" in pairs
    pairs, _ = _pairs(["Test Coverage"], "The test code is located in the tests directory.")
    assert not any("test code" in question for question in pairs)  # "the" test code: the page's
    pairs, _ = _pairs(["API", "JSONEncoder.default"], "Python does not support overriding how basic types are "
                      "serialized, they are handled before this method.")
    assert not any(question.startswith("Does Python") for question in pairs)  # an API entry's side remark
    assert not any("each uploaded file" in question for question in pairs)  # "that dictionary": which, the page says
    pairs, _ = _pairs(["Application Context"], "Flask automatically pushes an application context when handling a "
                      "request.")
    assert "Does Flask automatically push an application context when handling a request?" in pairs
    pairs, _ = _pairs(["Static Files"], "Flask automatically adds a static view that takes a path relative to the "
                      "flaskr/static directory and serves it. SQLAlchemy will automatically commit for us.")
    # The project's own path in the answer: only the page says whose view, so it is not asked.
    assert not any("static view" in question for question in pairs)
    assert not any("commit" in question for question in pairs)


def test_it_names_they_by_the_heading_the_sentence_before_mentions():
    pairs, _ = _pairs(["Static Files"], "Besides CSS, other types of static files might be files with JavaScript "
                      "functions, or a logo image. They are all placed under a static directory.")
    # Answered in the text's own words: the sentence that names them, then the one that says where.
    assert pairs["Where are static files placed?"].answer == (
        "Besides CSS, other types of static files might be files with JavaScript functions, or a logo image. They are "
        "all placed under a static directory.")
    pairs, _ = _pairs(["Static Files"], "Templates are rendered by Jinja. They are all placed under the templates "
                      "directory.")
    assert not any(question.startswith("Where") for question in pairs)  # "they" is not what the heading names


def test_it_asks_how_to_use_the_one_function_a_usage_example_calls():
    pairs, _ = _pairs(["Using SQLite 3 with Flask", "Easy Querying"], "```\ndef query_db(query, args=()):\n    return "
                      "get_db().execute(query, args).fetchall()\n```\n\nHere is how you can use it:\n\n```\nfor user in "
                      "query_db('select * from users'):\n    print(user['username'])\n```")
    assert "for user in query_db" in pairs["How do I use `query_db()` with SQLite?"].answer
    pairs, _ = _pairs(["Checksums"], "Example usage:\n\n```\nhash = generate_checksum(request)\nfiles = "
                      "load_files(request)\n```")
    assert not any(question.startswith("How do I use `") for question in pairs)  # two calls: which one it shows


def test_it_asks_in_order_to_sentences_like_to_do_ones():
    pairs, _ = _pairs(["API"], "In order to convert the return value to a proper response object, call make_response().")
    assert "How do I convert the return value to a proper response object?" in pairs


def test_it_asks_what_a_quoted_term_means_where_the_text_defines_it():
    pairs, _ = _pairs(["Deploying to Production"], "“Production” means “not development”, which applies whether "
                      "you’re serving your application publicly or privately. Putting an HTTP server in front of the "
                      "WSGI server is called a “reverse proxy.”")
    assert pairs["What does “production” mean?"].answer.startswith("“Production” means")
    assert pairs["What is a reverse proxy?"].answer.startswith("Putting an HTTP server in front")
    pairs, _ = _pairs(["Guide"], "This is called a “hook.” It runs before each request.")
    assert "What is a hook?" not in pairs  # "this": called what, the page says


def test_it_asks_how_to_do_a_pages_task_with_the_means_each_section_names():
    pairs, _ = _pairs(["Uploading reports", "The CLI"],
                      "Run the import command with the folder of reports:\n\n```\nacme import ./reports\n```")
    how = pairs["How do I upload reports with the CLI?"]
    assert how.kind == "how-to" and "acme import ./reports" in how.answer
    pairs, _ = _pairs(["Uploading reports", "The upload page"],
                      "The upload page lists every report with its status and the reason of any failure.")
    assert not any(q.startswith("How do I upload reports") for q in pairs)  # no instruction: no way to do it
    pairs, _ = _pairs(["Reports", "The command line"], "Run the import command with the folder of reports.")
    assert not any(q.startswith("How do I") for q in pairs)  # the page names no task


def test_it_turns_a_how_clause_heading_into_its_question():
    pairs, _ = _pairs(["Search", "How documents are cut and searched"],
                      "Documents are split at every heading. Each chunk holds at most 256 tokens and starts with "
                      "the page title and its section headings.")
    assert pairs["How are documents cut and searched?"].answer.startswith("Documents are split at every heading.")
    pairs, _ = _pairs(["Overview", "How it works"], "The server reads the queue and answers each request in turn.")
    assert not any(q.startswith("How does it") for q in pairs)


def test_it_takes_an_overview_that_lists_the_ways_as_the_answer_to_a_task_page():
    pairs, _ = _pairs(["Exporting reports"],
                      "Reports leave the system as they were filed. There are two ways to export them, and both keep "
                      "the attachments: the export page and the command line.")
    how = pairs["How do I export reports?"]
    assert how.kind == "how-to" and how.answer.endswith("the export page and the command line.")
    pairs, _ = _pairs(["Exporting reports"], "Reports leave the system as they were filed, with their attachments.")
    assert "How do I export reports?" not in pairs  # an introduction that names no way


def test_a_question_in_the_tutorials_voice_is_not_asked():
    # "How do I clean up after our test session?": whose session, only the tutorial knows.
    path = ("Routing Tasks", "AMQP Primer", "Hands-on with the API")
    text = ("To clean up after our test session you should delete the entities you created:\n\n"
            "```\n7> queue.delete testqueue\nok. 0 messages deleted.\n```")
    assert not [question for question in _pairs(path, text)[0] if " our " in question]
    assert "How do I clean up after a test session?" in _pairs(path, text.replace("our test", "a test"))[0]


@pytest.mark.parametrize("sentence", [
    "By default, the search parameter is named 'search', but this may be overridden with the SEARCH_PARAM setting.",
    "If this is True, eagerly executed tasks (or when the task_always_eager setting is enabled) propagate exceptions.",
])
def test_a_sentence_that_names_an_option_without_saying_what_it_does_asks_nothing_about_it(sentence):
    path = ("Configuration", "Settings")
    assert not [question for question in _pairs(path, sentence)[0] if question.startswith("What does the `")]
    said = "The timeout parameter sets the number of seconds Requests waits for a response before giving up."
    entry = ("API", "requests.get(url, params=None, **kwargs)")
    assert any(q.startswith("What does the `timeout` parameter of `") for q in _pairs(entry, said)[0])
    # An argument of which call, only the page says: readers failed 14 of 15 such ownerless questions.
    ownerless = "The exc argument is used to pass exception information that is used in logs."
    assert not [question for question in _pairs(path, ownerless)[0] if "`exc`" in question]
    setting = "The region option selects the data centre that stores every upload."
    assert "What does the `region` option do?" in _pairs(path, setting)[0]  # an option is the product's own


def test_an_faq_label_is_not_asked_as_a_question_but_a_real_question_heading_is():
    body = "No! As of version 2.28, the library no longer supports Python 2.7. Pin to an older release instead."
    assert "Python 2 Support?" not in _pairs(("Frequently Asked Questions", "Python 2 Support?"), body)[0]
    assert "Does Flask support Python 2?" in _pairs(("Frequently Asked Questions", "Does it support Python 2?"), body)[0]


def test_a_sentence_that_only_seems_to_define_a_term_asks_nothing():
    path = ("git-stash(1)", "DISCUSSION")
    sentence = "where BBBBBB is the sha1 hash of the bad merge base and GGGGGG is a list of good merge bases."
    assert not [question for question in _pairs(path, sentence)[0] if question.startswith("What is")]
    defined = "An evil merge is a merge that introduces changes that do not appear in any parent."
    assert "What is an evil merge?" in _pairs(path, defined)[0]


def test_a_manual_page_reference_is_not_asked_about_as_a_function():
    text = "gitk(1):\n\nThe Git repository browser. Shows branches, commit history and file differences."
    assert not [question for question in _pairs(("git(1)", "SEE ALSO"), text)[0] if "gitk()" in question]


@pytest.mark.parametrize("sentence", [
    "If you want to invalidate the cache manually (e.g., because your version of exif was updated), remove the file.",
    "Abort if the second object already has notes (use -f to overwrite existing notes to the second object).",
])
def test_no_question_carries_a_task_cut_out_of_its_parentheses(sentence):
    questions = _pairs(("gitattributes(5)", "Performing text diffs of binary files"), sentence)[0]
    assert all(q.count("(") == q.count(")") and "e.g?" not in q for q in questions)


@pytest.mark.parametrize(("path", "body", "bad"), [
    (("API Guide", "Authentication", "TokenAuthentication"),
     ("To use the TokenAuthentication scheme you'll need to configure the authentication classes to include "
      "TokenAuthentication, and additionally include rest_framework.authtoken in your INSTALLED_APPS setting:\n\n"
      "```\nINSTALLED_APPS = [\n    'rest_framework.authtoken'\n]\n```"), "you'll"),
    (("Serializer relations", "Further notes", "The queryset argument"),
     ("The queryset argument is only ever required for writable relationship field, in which case it is used for "
      "performing the model instance lookup."), "the the"),
])
def test_no_question_runs_on_into_the_next_clause_or_doubles_a_word(path, body, bad):
    assert not [question for question in _pairs(path, body)[0] if bad in question]


def test_an_answer_ends_before_the_example_heading_whose_example_the_chunk_lacks():
    pairs = _pairs(("celery.bin.base", "find_option"), "find_option(name):\n\nSearch for option by name. Example")[0]
    assert pairs and not [c.answer for c in pairs.values() if c.answer.rstrip().endswith("Example")]


def test_an_option_and_its_negation_over_one_description_ask_about_the_option():
    path = ("git-rev-list(1)", "OPTIONS", "Commit Limiting")
    text = (f"{' > '.join(path)}\n\n--max-parents=<number>:\n\n--no-max-parents:\n\n"
            "Show only commits which have at most that many parent commits. --no-max-parents resets the limit.")
    with vocabulary.using(vocabulary.Vocabulary(names=frozenset({"Git"}), product="Git")):
        result = StructuralGenerator().generate(ChunkInput(1, path[0], path, text,
                                                           vocabulary=vocabulary.current()))
    questions = [c.question for c in result.candidates]
    assert "What does `git rev-list --max-parents` do?" in questions
    assert not [q for q in questions if "--no-max-parents" in q]


def test_it_asks_no_parameter_question_of_a_method_entry_and_no_object_less_task():
    pairs, _ = _pairs(["Generic views", "GenericAPIView", "get_serializer_class(self)"],
                      "Returns the class that should be used for the serializer.\n\n"
                      "- filter_queryset(self, queryset) - Given a queryset, filter it with whichever filter backends "
                      "are in use, returning a new queryset.")
    assert not any("parameter of" in question for question in pairs)  # a method of the list, no parameter
    pairs, _ = _pairs(["Format suffixes", "format_suffix_patterns", "Using with i18n_patterns"],
                      "If using the i18n_patterns function provided by Django, as well as format_suffix_patterns you "
                      "should make sure that the i18n_patterns function is applied as the final, or outermost "
                      "function. For example:\n\n```\nurlpatterns = i18n_patterns(format_suffix_patterns(urlpatterns))\n```")
    assert "How do I use with i18n_patterns?" not in pairs  # the heading's object is the page's, not the question's
    pairs, _ = _pairs(["Quickstart", "Pagination"], "Pagination allows you to control how many objects per page are "
                      "returned. To enable it add the following lines to tutorial/settings.py")
    assert all("the following" not in c.answer for c in pairs.values())  # the lines are not in the answer


def test_a_see_also_pointer_is_no_part_of_an_entrys_answer():
    path = ["Developer Interface", "class requests.cookies.RequestsCookieJar", "iteritems()"]
    body = ("Dict-like iteritems() that returns an iterator of name-value tuples from the jar.\n\nSee also\n\n"
            "iterkeys() and itervalues().")
    asked = _pairs(path, body)[0]
    assert asked["What does `RequestsCookieJar.iteritems()` do?"].answer == (
        "Dict-like iteritems() that returns an iterator of name-value tuples from the jar.")


def test_a_member_under_a_bare_class_name_heading_is_named_by_its_class():
    pairs, _ = _pairs(["Serializers", "ListSerializer", "min_length"], "This is None by default, but can be set to a "
                      "positive integer if you want to validate that the list contains no fewer than this number.")
    assert "What is `ListSerializer.min_length`?" in pairs
    pairs, _ = _pairs(["Guides", "JavaScript", "fetch_timeout"], "How long a fetch may take before it is cancelled, "
                      "in seconds.")
    assert "What is `JavaScript.fetch_timeout`?" not in pairs  # a name the docs' prose uses, not a class


def test_a_configuration_value_keeps_a_default_given_as_code_and_drops_an_example_it_cannot_show():
    pairs, _ = _pairs(["Settings", "DEFAULT_PERMISSION_CLASSES"], "A list or tuple of permission classes, that "
                      "determines the default set of permissions checked at the start of a view.\n\nDefault:\n\n"
                      "```\n['rest_framework.permissions.AllowAny']\n```")
    assert pairs["What does the `DEFAULT_PERMISSION_CLASSES` configuration value do?"].answer.endswith(
        "at the start of a view. Default: `['rest_framework.permissions.AllowAny']`")
    pairs, _ = _pairs(["Settings", "COMPACT_JSON"], "When set to True, JSON responses will return compact "
                      "representations. For example:\n\n```\n{\"is_admin\":false}\n```\n\nDefault: True")
    assert pairs["What does the `COMPACT_JSON` configuration value do?"].answer == (
        "When set to True, JSON responses will return compact representations. Default: True")


def test_task_headings_ask_in_the_first_person_and_join_no_two_topics():
    pairs, _ = _pairs(["Documenting your API", "Documenting your views"], "You can document your views with "
                      "docstrings:\n\n```\nclass UserList(APIView):\n    \"\"\"List users.\"\"\"\n```")
    assert "How do I document my views?" in pairs
    pairs, _ = _pairs(["Filtering", "Filtering & schemas"], "You can also make the filter controls available to the "
                      "schema autogeneration:\n\n```\ndef get_schema_fields(self, view):\n    return []\n```")
    assert not any(question.startswith("How do I filter &") for question in pairs)


def test_a_heading_that_says_how_plural_things_are_done_asks_how_they_are():
    from docsbot.qa.generators.faq import how_clause_question

    assert how_clause_question("How hyperlinked views are determined") == "How are hyperlinked views determined?"
    assert how_clause_question("How documents are cut and searched") == "How are documents cut and searched?"
    assert how_clause_question("How docsbot works") == "How does docsbot work?"


def test_a_to_do_sentence_asks_in_the_first_person():
    pairs, _ = _pairs(["Quickstart", "Cookies"], "To send your own cookies to the server, you can use the cookies "
                      "parameter:\n\n```\n>>> r = requests.get(url, cookies=dict(cookies_are='working'))\n```")
    assert "How do I send my own cookies to the server?" in pairs


def test_a_negated_option_alone_over_the_positive_ones_description_is_not_asked():
    text = ("--no-autostash:\n\nAutomatically create a temporary stash entry before the operation begins, and apply it "
            "after the operation ends.\n\n--no-verify:\n\nThis option bypasses the pre-merge and commit-msg hooks. "
            "See also githooks(5).\n\n--no-commit:\n\nPerform the merge and stop just before creating a merge commit, "
            "so that the user can inspect the result. Do not commit yet.")
    pairs, _ = _pairs(["git-pull(1)", "OPTIONS"], text)
    assert not any("--no-autostash" in question for question in pairs)
    assert any(question.endswith("--no-commit` do?") for question in pairs)


def test_a_signpost_heading_is_no_question():
    pairs, _ = _pairs(["Tutorial 2: Requests and Responses", "What's next?"], "In tutorial part 3, we'll start using "
                      "class-based views, and see how generic views reduce the amount of code we need to write.")
    assert "What's next?" not in pairs
    pairs, _ = _pairs(["FAQ", "Why is my task not running?"], "Most often the worker is not consuming from the queue "
                      "the task was sent to; start it with the queue's name.")
    assert "Why is my task not running?" in pairs


REQUESTS_DOCS = vocabulary.Vocabulary(names=frozenset({"Python", "Requests", "urllib3"}), product="Requests",
                                      platforms=frozenset({"Python"}))


def test_a_named_thing_that_lets_you_do_something_asks_what_it_lets_you_do():
    pairs, _ = _pairs(["Requests: HTTP for Humans"], "Requests allows you to send HTTP/1.1 requests extremely easily. "
                      "There’s no need to manually add query strings to your URLs.", docs=REQUESTS_DOCS)
    assert pairs["What does Requests allow you to do?"].answer == \
        "Requests allows you to send HTTP/1.1 requests extremely easily."
    pairs, _ = _pairs(["Advanced Usage", "Session Objects"], "`Session` objects let you persist certain parameters "
                      "across requests. This allows you to reuse the underlying TCP connection.", docs=REQUESTS_DOCS)
    assert "What do `Session` objects let you do?" in pairs
    assert not any(question.startswith("What does this") for question in pairs)  # "This allows you": which this?
    pairs = _git_pairs(["Git User Manual", "Finding regressions"], "Git bisect can help you perform a binary search "
                       "for the commit that introduced a bug.")
    pairs.update(_pairs(["Celery 5.2", "Chords"], "The `result_chord_join_timeout` setting now allows you to change "
                        "the timeout of a chord's join.", docs=CELERY_DOCS)[0])
    assert not any(question.startswith("What do") for question in pairs)  # no "What do Git bisect can help you do?"


def test_what_you_should_use_to_do_something_with_the_code_it_introduces_is_a_how_to():
    pairs, _ = _pairs(["Quickstart", "Raw Response Content"], "In general, however, you should use a pattern like "
                      "this to save what is being streamed to a file:\n\n```\nwith open(filename, 'wb') as fd:\n"
                      "    for chunk in r.iter_content(chunk_size=128):\n        fd.write(chunk)\n```",
                      docs=REQUESTS_DOCS)
    answer = pairs["How do I save what is being streamed to a file?"].answer
    assert answer.startswith("In general, however, you should use a pattern") and "iter_content(chunk_size=128)" in answer


def test_what_to_do_while_doing_something_is_asked_but_not_in_an_options_description():
    pairs, _ = _pairs(["Contributor’s Guide", "Documentation Contributions"], "When presenting Python code, use "
                      "single-quoted strings ('hello' instead of \"hello\").", docs=REQUESTS_DOCS)
    assert pairs["What should you do when presenting Python code?"].answer.startswith("When presenting Python code, use")
    options = _git_pairs(["git-commit(1)", "Options"], "--short:\n\nWhen doing a dry-run, give the output in the "
                         "short-format. See git-status(1) for details.\n\n--branch:\n\nShow the branch and tracking "
                         "info even in short-format.")
    assert "What does `git commit --short` do?" in options
    assert not any(question.startswith("What should you do") for question in options)


def test_a_how_to_sentence_ending_its_paragraph_takes_the_code_after_it_that_uses_what_it_names():
    text = ("When testing views directly using a request factory, it's often convenient to be able to directly "
            "authenticate the request.\n\nTo forcibly authenticate a request, use the force_authenticate() method.\n\n"
            "```\nfrom rest_framework.test import force_authenticate\n\nfactory = APIRequestFactory()\n"
            "request = factory.get('/accounts/django-superstars/')\nforce_authenticate(request, user=user)\n```")
    pairs, _ = _pairs(["Testing", "APIRequestFactory", "Forcing authentication"], text)
    assert "force_authenticate(request, user=user)" in pairs["How do I forcibly authenticate a request?"].answer
    unrelated = ("To see the rendered page, open the browser at the address the server prints.\n\n"
                 "```\n$ flask run\n * Running on http://127.0.0.1:5000/\n```")
    pairs, _ = _pairs(["Quickstart", "Running"], unrelated)
    assert pairs["How do I see the rendered page?"].answer.endswith("the address the server prints.")


def test_a_how_to_heading_answer_goes_on_to_the_code_that_does_the_task():
    text = ("Another style of filtering might involve restricting the queryset based on some part of the URL.\n\n"
            "For example if your URL config contained an entry like this:\n\n"
            "```\nre_path('^purchases/(?P<username>.+)/$', PurchaseList.as_view()),\n```\n\n"
            "You could then write a view that returned a purchase queryset filtered by the username portion of the "
            "URL:\n\n```\nclass PurchaseList(generics.ListAPIView):\n    def get_queryset(self):\n"
            "        username = self.kwargs['username']\n"
            "        return Purchase.objects.filter(purchaser__username=username)\n```")
    pairs, _ = _pairs(["Filtering", "Filtering against the URL"], text)
    answer = pairs["How do I filter against the URL?"].answer
    assert "re_path(" in answer and "Purchase.objects.filter(purchaser__username=username)" in answer


def test_a_question_about_the_new_thing_the_page_just_made_is_not_asked():
    text = ("You can then apply your new style to a view using the pagination_class attribute:\n\n```\n"
            "class BillingRecordsView(generics.ListAPIView):\n    pagination_class = LargeResultsSetPagination\n```")
    pairs, _ = _pairs(["Pagination", "Modifying the pagination style"], text, first=False)
    assert not any("new style" in question for question in pairs)


def test_an_answer_that_starts_mid_sentence_is_not_kept():
    path = ["Developer Interface", "Cookies", "class requests.cookies.RequestsCookieJar(policy=None)",
            "popitem() → (k, v), remove and return some (key, value) pair"]
    pairs, _ = _pairs(path, "as a 2-tuple; but raise KeyError if D is empty.", docs=REQUESTS_DOCS)
    assert not any(pair.answer.startswith("as a 2-tuple") for pair in pairs.values())


def test_a_settings_set_to_sentence_asks_what_the_setting_does_not_how_to_do_what_it_sets():
    pairs = _git_pairs(["git-config(1)", "CONFIGURATION FILE", "Variables"], "status.aheadBehind:\n\nSet to true to "
                       "enable --ahead-behind and false to enable --no-ahead-behind by default in git-status(1) for "
                       "non-porcelain status formats. Defaults to true.")
    assert "What does the `status.aheadBehind` setting do?" in pairs
    assert not any(question.startswith("How do I") for question in pairs)  # the answer would not name the setting


def test_a_comparison_of_values_is_no_term_to_ask_the_meaning_of():
    pairs, _ = _pairs(["States", "Misc"], "Get the precedence index for state. Lower index means higher precedence.",
                      docs=CELERY_DOCS)
    assert "What does lower index mean?" not in pairs
    pairs, _ = _pairs(["Installation", "Editable installs"], "Editable mode means that changes to the source code "
                      "are picked up without reinstalling the package.")
    assert "What does editable mode mean?" in pairs


def test_a_sentence_that_gives_an_example_defines_nothing():
    text = ("Cursor based pagination requires that there is a unique, unchanging ordering of items in the result set. "
            "Millisecond precision timestamps are a good example. Cursor pagination is a way to paginate large "
            "result sets.")
    pairs, _ = _pairs(["Pagination", "CursorPagination"], text)
    assert "What are Millisecond precision timestamps?" not in pairs and "What are millisecond precision timestamps?" \
        not in pairs
    assert "What is cursor pagination?" in pairs or "What is Cursor pagination?" in pairs


def test_a_hedged_you_cannot_is_no_question_but_a_plain_one_is():
    from docsbot.qa.generators.statements import statement_pair

    hedged = ("You won't typically need to directly access the request's content, as you'll normally rely on REST "
              "framework's default request parsing behavior.")
    assert statement_pair(hedged, "", "", ("Requests", "Request parsing")) is None
    plain = statement_pair("You cannot use the form parser with JSON payloads.", "", "", ("Parsers",))
    assert plain is not None and plain.question == "Can you use the form parser with JSON payloads?"


def test_a_heading_is_defined_by_its_own_term_not_by_a_compound_of_it():
    pairs, _ = _pairs(["Contributing to REST framework", "Security"], "Security issues are handled under the "
                      "supervision of the Django security team. Please report security issues by emailing "
                      "security@djangoproject.com.")
    assert "What is security?" not in pairs
    pairs, _ = _pairs(["Modular Applications", "Blueprints"], "Blueprints, in short, are a way to organize a group "
                      "of related views and other code. Rather than registering views directly with an application, "
                      "they are registered with a blueprint.")
    assert "What are blueprints?" in pairs  # an apposition between the term and its verb still defines it


def test_a_how_to_answered_by_the_tutorials_story_is_not_kept():
    text = ("Let's start by creating a simple object we can use for example purposes:\n\n```\nclass Comment:\n"
            "    def __init__(self, email, content):\n        self.email = email\n```")
    pairs, _ = _pairs(["Serializers", "Declaring Serializers"], text)
    assert "How do I declare serializers?" not in pairs and "How do I declare Serializers?" not in pairs
    pairs, _ = _pairs(["Quickstart", "Declaring Serializers"], "Declare a serializer by subclassing `Serializer`:\n\n"
                      "```\nclass CommentSerializer(serializers.Serializer):\n    email = serializers.EmailField()\n```")
    assert any(question.lower() == "how do i declare serializers?" for question in pairs)


def test_an_answer_ends_where_the_tutorials_story_goes_on():
    pairs, _ = _pairs(["Tutorial 1: Serialization", "Testing our first attempt at a Web API"],
                      "Httpie is a user friendly http client that's written in Python. Let's install that.")
    assert pairs["What is Httpie?"].answer == "Httpie is a user friendly http client that's written in Python."


def test_a_passive_relative_clause_names_no_role():
    pairs, _ = _pairs(["The Browsable API", "Customizing"], "The title that is used in the browsable API is generated "
                      "from the view class name or function name.")
    assert "What is used in the browsable API?" not in pairs
    pairs, _ = _pairs(["Routing", "URL map"], "The system that enables having a central URL map is the add_url_rule() "
                      "function.")
    assert "What enables having a central URL map?" in pairs


def test_an_answer_whose_opening_cheers_is_not_kept():
    pairs, _ = _pairs(["Routers", "Namespaces"], "Namespaces are one honking great idea - let's do more of those!")
    assert not any(pair.answer.startswith("Namespaces are one honking") for pair in pairs.values())


def test_an_entry_whose_opening_only_lists_its_arguments_asks_nothing():
    text = ("The get_schema_view() helper takes the following keyword arguments:\n\n- title: May be used to provide a "
            "descriptive title for the schema definition.\n- url: May be used to pass a canonical base URL.")
    pairs, _ = _pairs(["Schemas", "get_schema_view()"], text)
    assert "What does `get_schema_view()` do?" not in pairs


def test_a_heading_in_capitals_is_asked_in_lowercase_but_the_names_the_docs_capitalise():
    text = ("git-hash-object(1), git-rebase(1), and git-filter-repo, among other git commands, can be used to create "
            "replacement objects from existing objects. The --edit option can also be used with git replace to create "
            "a replacement object by editing an existing object.\n\nIf you want to replace many blobs, trees or commits "
            "that are part of a string of commits, you may just want to create a replacement string of commits and "
            "then only replace the commit at the tip of the target string of commits.")
    with vocabulary.using(GIT_DOCS):
        pairs, _ = _pairs(["git-replace(1)", "CREATING REPLACEMENT OBJECTS"], text, docs=GIT_DOCS)
    assert pairs and not [question for question in pairs if "REPLACEMENT" in question]
    assert unshouted("USING HTTP PROXIES", "Requests sends HTTP requests through proxies.") == "Using HTTP proxies"
    assert unshouted("SECRET_KEY", "") == "SECRET_KEY" and unshouted("OPTIONS", "") == "OPTIONS"


def test_a_that_clause_a_means_after_lets_you_or_a_tutorials_order_keeps_a_how_to_standing():
    # "check that a request ..." is a clause, not a pronoun only the text before resolves
    pairs, _ = _pairs(["Quickstart", "JSON Response Content"], "It should be noted that the success of the call does "
                      "not indicate the success of the response. To check that a request is successful, use "
                      "r.raise_for_status() or check r.status_code is what you expect.")
    assert pairs["How do I check that a request is successful?"].kind == "how-to"
    pairs, _ = _pairs(["Quickstart", "Checking"], "To check that, use r.raise_for_status().")
    assert not any("check that" in question for question in pairs)
    # a how-to heading's answer reaches the sentence that says how ("... allows you to ..., using the X argument")
    pairs, _ = _pairs(["Quickstart", "Passing Parameters In URLs"], "You often want to send some sort of data in the "
                      "URL’s query string. If you were constructing the URL by hand, this data would be given as "
                      "key/value pairs in the URL after a question mark. Requests allows you to provide these "
                      "arguments as a dictionary of strings, using the params keyword argument.")
    assert pairs["How do I pass parameters in URLs?"].answer.endswith("using the params keyword argument.")
    # a tutorial's order is no part of the task
    pairs, _ = _pairs(["Tutorial", "Setting up a new environment"], "Before we do anything else we'll create a new "
                      "virtual environment.\n\nStart by creating a virtual environment with venv:\n\n```\n"
                      "python3 -m venv env\nsource env/bin/activate\n```")
    assert "How do I create a virtual environment with venv?" in pairs, list(pairs)
    # a task whose way is only a pointer to other documentation is not asked
    pairs, _ = _pairs(["Upgrading", "Couchbase"], "To verify that your Couchbase Server is compatible with the V3 SDK, "
                      "please refer to their documentation.")
    assert not any(question.startswith("How do I verify") for question in pairs)


def test_a_question_heading_in_the_negative_is_asked_as_written():
    pairs, _ = _pairs(["Browser enhancements", "Doesn't HTML5 support PUT and DELETE forms?"], "Nope. It was at one "
                      "point intended to support PUT and DELETE forms, but was later dropped from the spec.")
    assert pairs["Doesn't HTML5 support PUT and DELETE forms?"].answer.startswith("Nope. It was")


def test_a_sentence_whose_object_is_the_code_after_it_is_answered_with_that_code_or_not_at_all():
    pairs, _ = _pairs(["Tutorial", "Managing branches"], "A single repository can hold many branches. To create a new "
                      "branch named experimental, use\n\n```\n$ git branch experimental\n```")
    assert pairs["How do I create a new branch named experimental?"].answer.endswith("$ git branch experimental\n```")
    pairs, _ = _pairs(["Manual", "Fixing mistakes"], "If you decide to give up on the merge and throw the whole mess "
                      "away, you can always return to the pre-merge state with")
    assert not pairs


def test_a_means_that_is_the_code_shown_is_left_out_of_the_question():
    pairs, _ = _pairs(["gitattributes(5)", "Working-tree-encoding"], "Use the `working-tree-encoding` attribute only "
                      "if you cannot store a file in UTF-8 encoding.\n\nYou can get a list of all available encodings "
                      "on your platform with the following command:\n\n```\niconv --list\n```")
    assert "How do I get a list of all available encodings on my platform?" in pairs, list(pairs)


def test_a_way_introduced_with_a_colon_is_answered_with_the_code_after_it():
    pairs, _ = _pairs(["Next steps", "Starting the worker"],
                      "You can get a complete list of command-line arguments by passing in the --help flag:\n\n"
                      "```\n$ acme worker --help\n```")
    answer = pairs["How do I get a complete list of command-line arguments?"].answer
    assert answer.startswith("You can get a complete list of command-line arguments by passing in the --help flag:\n\n```")
    assert "$ acme worker --help" in answer


def test_a_task_cut_at_an_aside_is_not_asked():
    pairs, _ = _pairs(["Rewriting", "Examples"],
                      "If you need to add Acked-by lines to, say, the last 10 commits (none of which is a merge), use "
                      "this command:\n\n```\nacme filter-branch --msg-filter 'cat && echo Acked-by'\n```")
    assert not any(question.endswith(" to?") for question in pairs), pairs


def test_a_plural_heading_its_opening_defines_is_asked_as_a_kind_of_thing():
    pairs, _ = _pairs(["Handling Application Errors", "Error Handlers"],
                      "An error handler is a function that returns a response when a type of error is raised, similar "
                      "to how a view is a function that returns a response when a request URL is matched.")
    assert pairs["What are error handlers?"].answer.startswith("An error handler is a function")


def test_a_one_word_heading_about_this_pages_one_is_not_asked_what_it_is():
    output, _ = _pairs(["git-show-ref(1)", "OUTPUT"], "The output is in the format: <SHA-1 ID> <space> <reference name>.")
    syntax, _ = _pairs(["git-config(1)", "Syntax"], "The syntax is fairly flexible and permissive; whitespaces are "
                       "mostly ignored. The # and ; characters begin comments to the end of line.")
    below, _ = _pairs(["3.0 Announcement"], "Below is an in-depth guide to the API changes and migration notes.")
    assert not [q for q in [*output, *syntax, *below] if q.startswith("What is")], (output, syntax, below)


def test_a_heading_the_product_introduces_in_the_opening_is_asked_what_it_is():
    pairs, _ = _pairs(["Tutorial 2: Requests and Responses", "Request objects"],
                      "REST framework introduces a Request object that extends the regular HttpRequest, and provides "
                      "more flexible request parsing.")
    assert pairs["What are request objects?"].answer.startswith("REST framework introduces a Request object")


def test_a_file_formats_man_page_asks_what_the_file_is():
    pairs, _ = _pairs(["gitignore(5)", "DESCRIPTION"], "A gitignore file specifies intentionally untracked files that "
                      "Git should ignore. Files already tracked by Git are not affected.")
    assert pairs["What is a gitignore file?"].answer.startswith("A gitignore file specifies")
    command, _ = _pairs(["git-add(1)", "DESCRIPTION"], "A gitignore file specifies intentionally untracked files.")
    assert "What is a gitignore file?" not in command  # a command's page asks what the command does


def test_a_notation_entry_is_asked_what_its_example_means_and_two_notations_stay_two_questions():
    pairs, _ = _pairs(["gitrevisions(7)", "SPECIFYING REVISIONS"],
                      "<sha1>, e.g. dae86e1950b1277e545cee180551750029cfe735, dae86e:\n\nThe full SHA-1 object name, "
                      "or a leading substring that is unique within the repository.\n\n"
                      "<rev>^[<n>], e.g. HEAD^, v1.5.1^0:\n\nA suffix ^ to a revision parameter means the first parent "
                      "of that commit object.\n\n<rev>~[<n>], e.g. HEAD~, master~3:\n\nA suffix ~<n> to a revision "
                      "parameter means the commit object that is the <n>th generation ancestor of the named commit."
                      "\n\n:/<text>, e.g. :/fix nasty bug:\n\nA colon, followed by a slash, followed by a text, names a "
                      "commit whose commit message matches the specified regular expression.")
    assert pairs["What does `HEAD^` mean?"].answer.startswith("`<rev>^[<n>]`, e.g. `HEAD^`, `v1.5.1^0`: A suffix ^")
    assert pairs["What does `HEAD~` mean?"].answer.startswith("`<rev>~[<n>]`, e.g. `HEAD~`, `master~3`: A suffix ~")
    assert pairs["What does `:/fix nasty bug` mean?"].answer.startswith("`:/<text>`, e.g. `:/fix nasty bug`: A colon")
    assert not any("dae86e" in question for question in pairs)  # a bare placeholder shows no notation
