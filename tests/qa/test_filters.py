"""Pair filters and the LLM output parser: pure functions."""
import numpy as np

from docsbot.qa import filters


def test_it_scores_grounding_by_content_words_of_the_source():
    source = "The timeout option sets the request timeout in seconds and defaults to 30."
    assert filters.grounding_score("The timeout option defaults to 30 seconds.", source) == 1.0
    assert filters.grounding_score("Bananas are yellow fruit from tropical plantations.", source) < 0.2


def test_it_recognises_boilerplate_unless_changelogs_are_asked_for():
    assert filters.boilerplate_kind(title="License", heading_path=["License"], text="x") == "navigation/licence"
    assert filters.boilerplate_kind(title="Guide", heading_path=["Guide"],
                                    text="Permission is hereby granted, free of charge") == "navigation/licence"
    changelog = {"title": "Changes", "heading_path": ["Changes", "Version 2.2.0"], "text": "Released 2022-08-01"}
    assert filters.boilerplate_kind(**changelog) == "changelog"
    assert filters.boilerplate_kind(**changelog, include_changelog=True) == ""
    assert filters.boilerplate_kind(title="Guide", heading_path=["Guide", "Setup"], text="Run the installer.") == ""


def test_it_reads_history_and_changes_in_a_heading_as_documentation_not_a_changelog():
    git_log = "To show the history of a file, run git log with its path:\n\n```\n$ git log -- Makefile\n```"
    for path in (["Git User Manual", "Exploring Git history"],
                 ["Git User Manual", "Rewriting history and maintaining patch series"],
                 ["gittutorial", "Exploring history"], ["Tutorial", "Making changes"],
                 ["Guide", "Reviewing changes before a commit"], ["Manual", "1.2 Viewing the history"],
                 ["Git User Manual", "Creating a changelog and tarball for a software release"]):
        assert filters.boilerplate_kind(title=path[0], heading_path=path, text=git_log) == "", path
    # A numbered step or section is no version entry.
    steps = "1. Edit the file.\n2. Stage it with git add.\n3. Commit the changes."
    assert filters.boilerplate_kind(title="Guide", heading_path=["Guide", "History"], text=steps) == ""


def test_it_recognises_changelogs_by_their_version_entries():
    def kind(path, text="- Fix a crash when the config is empty. #4519"):
        return filters.boilerplate_kind(title=path[0], heading_path=path, text=text)

    assert kind(["Changes", "Version 2.2.0"]) == "changelog"
    assert kind(["Release History", "Security"]) == "changelog"
    assert kind(["Git v2.39 Release Notes", "UI, Workflows & Features"]) == "changelog"
    assert kind(["CHANGELOG"]) == "changelog"
    assert kind(["What's New in 3.0", "Faster start"]) == "changelog"
    assert kind(["History", "2.28.1 (2022-06-29)"]) == "changelog"
    assert kind(["Project", "v1.4"]) == "changelog"
    assert kind(["Project", "History"], "- 1.2.0 (2021-03-01): faster start.\n- 1.1.0 (2020-11-02): first "
                                        "release.") == "changelog"
    assert kind(["Changes", "Bug fixes"], "Released 2022-04-28\n\n- Fix a crash.") == "changelog"
    assert kind(["Guide", "Changes in version 3.0"]) == "changelog"
    assert filters.boilerplate_kind(title="Changes", heading_path=[], text="") == "changelog"  # a page so titled


def test_it_reads_navigation_words_inside_real_headings_as_documentation():
    assert filters.boilerplate_kind(title="Streaming", heading_path=["Streaming Contents"], text="x") == ""
    assert filters.boilerplate_kind(title="API", heading_path=["API", "register(tag_class, force=False, index=None)"],
                                    text="Register a new tag.") == ""
    assert filters.boilerplate_kind(title="Contents", heading_path=["Contents"], text="x") == "navigation/licence"


def test_it_treats_contribution_pages_as_boilerplate():
    assert filters.boilerplate_kind(title="How to contribute to Flask", heading_path=[], text="x") \
        == "navigation/licence"
    assert filters.boilerplate_kind(title="Guide", heading_path=["Guide"],
                                    text="Thank you for considering contributing to Acme!") == "navigation/licence"
    assert filters.boilerplate_kind(title="Contributor’s Guide", heading_path=["Contributor’s Guide", "Bug Reports"],
                                    text="Bug reports are hugely important!") == "navigation/licence"


def test_it_flags_near_duplicate_questions_greedily():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    close = np.array([0.999, 0.0447])
    verdicts = filters.near_duplicates(np.stack([a, close, b]), existing=None)
    assert [v.duplicate for v in verdicts] == [False, True, False]
    assert filters.near_duplicates(np.stack([b]), existing=np.stack([b]))[0].duplicate


def test_it_bounds_lengths():
    assert filters.length_ok("How do I log in?", "Run acme login with your key.")
    assert not filters.length_ok("Why?", "Run acme login with your key.")
    assert not filters.length_ok("How do I log in?", "x" * 5000)


def test_it_reads_short_menu_lines_as_navigation_but_not_short_code_lines():
    menu = "Home\nGuide\nAPI\nPatterns\nDeploying\nChanges\nLicence"
    assert filters.boilerplate_kind(title="Guide", heading_path=["Guide"], text=menu) == "navigation/licence"
    code = ("To declare a model, create a class that inherits from Document.\n\n```\nimport mongoengine as me\n\n"
            "class Movie(me.Document):\n    title = me.StringField()\n    year = me.IntField()\n"
            "    rated = me.StringField()\n    director = me.StringField()\n    actors = me.ListField()\n```")
    assert filters.boilerplate_kind(title="MongoDB", heading_path=["MongoDB", "Mapping Documents"], text=code) == ""


def test_it_reads_index_as_navigation_only_for_a_whole_page():
    assert filters.boilerplate_kind(title="Index", heading_path=["Index"], text="x") == "navigation/licence"
    assert filters.boilerplate_kind(title="Blog Blueprint", heading_path=["Blog Blueprint", "Index"],
                                    text="The index will show all of the posts, most recent first.") == ""


def test_it_names_the_weak_question_forms():
    from docsbot.qa.filters import weak_form

    assert weak_form("What happens if another program is using port 5000?", "You'll see an OSError.") == "condition"
    assert weak_form("How do I install my project?", "Use pip to install your project.") == "how-to without code"
    assert weak_form("Why is SQLite convenient?", "It needs no separate server.") == "why without code"
    # A how-to shows its code: naming it ("use the errorhandler() decorator", "the -v option") is not enough.
    assert weak_form("How do I list each test?", "Run pytest -v to list each test.") == "how-to without code"
    assert weak_form("How do I list each test?", "Run pytest with -v:\n\n```\n$ pytest -v\n```") == ""
    assert weak_form("How do I re-run the tests?", "Re-run them after every change.") == "how-to without code"
    assert weak_form("Why use -v?", "The -v option lists each test.") == ""
    assert weak_form("What is `g`?", "A namespace object.") == ""
    assert weak_form("How do I export reports?", "There are two ways to export them: the export page and the "
                                                 "command line.") == ""  # it lists the ways


def test_it_holds_back_soft_filter_pairs_however_thin_their_page():
    from types import SimpleNamespace

    from docsbot.qa.screening import Draft, balance_soft_filters

    def draft(document_id: int, form: str, answerability: float = 1.0, reason: str = "") -> Draft:
        return Draft(SimpleNamespace(document_id=document_id, pk=document_id), SimpleNamespace(),
                     scores={"form": form, "answerability": answerability}, reason=reason)

    thin = [draft(2, "ok"), draft(2, "condition", 0.5), draft(2, "how-to without code", 1.0)]
    bare = [draft(4, "ok", 0.0, "answerability"), draft(4, "condition"), draft(4, "ok", 0.0, "duplicate")]
    balance_soft_filters(thin + bare, kept_per_document={})
    assert [d.reason for d in thin] == ["", "weak_form", "weak_form"]
    assert [d.reason for d in bare] == ["answerability", "weak_form", "duplicate"]
    assert not any("kept_for_coverage" in d.scores for d in thin + bare)


def test_an_edited_page_keeps_as_many_pairs_as_it_had_before_from_its_held_back_ones():
    from types import SimpleNamespace

    from docsbot.qa.screening import Draft, balance_soft_filters

    def draft(form: str, chunk: int = 1) -> Draft:
        return Draft(SimpleNamespace(document_id=7, pk=chunk), SimpleNamespace(),
                     scores={"form": form, "answerability": 1.0})

    # The page had 6 pairs; 4 of its chunks changed (their 4 pairs went stale), 2 pairs stay; the changed chunks
    # gave one pair that passed every filter and three of a weak form.
    changed = [draft("ok"), draft("condition"), draft("condition"), draft("condition")]
    balance_soft_filters(changed, kept_per_document={7: 2}, pairs_before_per_document={7: 6})
    assert [d.reason for d in changed] == ["", "", "", ""]  # 2 + 4 = the 6 it had
    fresh = [draft("ok"), draft("condition"), draft("condition"), draft("condition")]
    balance_soft_filters(fresh, kept_per_document={}, pairs_before_per_document={})
    assert [d.reason for d in fresh] == ["", "weak_form", "weak_form", "weak_form"]  # a new page keeps none
    # A page rich in pairs whose edited chunk 2 made only a held-back pair: that chunk keeps its best one, chunk 1
    # (a pair passed) keeps none of its held-back ones.
    edited = [draft("ok", 1), draft("condition", 1), draft("condition", 2), draft("how-to without code", 2)]
    balance_soft_filters(edited, kept_per_document={7: 11}, pairs_before_per_document={7: 11})
    assert [d.reason for d in edited] == ["", "weak_form", "", "weak_form"]
    assert edited[2].scores["kept_for_coverage"] == "weak_form"


def test_questions_about_different_code_are_never_near_duplicates_however_close_their_embeddings():
    same_vector = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    questions = ["What is the `cert` parameter of `cert_verify` for?",
                 "What is the `verify` parameter of `cert_verify` for?",
                 "What is the `verify` parameter of cert_verify for?"]
    names = [filters.code_names(q) for q in questions]
    verdicts = filters.near_duplicates(same_vector, names_new=names)
    assert [v.duplicate for v in verdicts] == [False, False, True]  # the third asks the second again
    existing = [filters.code_names("What does `requests.request()` do?")]
    [verdict] = filters.near_duplicates(same_vector[:1], existing=same_vector[:1],
                                        names_new=[filters.code_names("What does `requests.get()` do?")],
                                        names_existing=existing)
    assert not verdict.duplicate


def test_code_names_keep_case_and_drop_call_parentheses():
    assert filters.code_names("What does `requests.get()` do?") == {"requests.get"}
    assert filters.code_names("What is Response.raw?") == filters.code_names("What is `Response.raw`?")
    assert filters.code_names("What is `requests.Request`?") != filters.code_names("What does `requests.request()` do?")
    assert filters.code_names("How do I stream requests?") == frozenset()


def test_a_page_titled_by_a_product_and_a_version_is_a_release_announcement():
    announcement = {"title": "Django REST framework 3.12", "heading_path": ["Django REST framework 3.12", "Schemas"],
                    "text": "REST framework 3.12 now defines components in the schema."}
    assert filters.boilerplate_kind(**announcement) == "changelog"
    for title in ("Upgrading to 3.0", "Tutorial 7: Schemas & client libraries", "Python 3"):
        assert filters.boilerplate_kind(title=title, heading_path=[title], text="Run the migration.") == ""



def test_a_question_naming_a_dotted_api_or_a_command_option_is_exempt_from_answerability():
    assert filters.names_qualified_entry("What does `git diff-index --cumulative` do?")
    assert filters.names_qualified_entry("What is the `hooks` parameter of `requests.Request` for?")
    assert filters.names_qualified_entry("What is `celery.beat.Scheduler`?")
    assert not filters.names_qualified_entry("What does `send()` do?")  # whose send(): retrieval must decide
    assert not filters.names_qualified_entry("What does the `context` argument do?")
    assert not filters.names_qualified_entry("How do I back up a Git directory?")
