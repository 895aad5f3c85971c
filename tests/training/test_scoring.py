from training.evaluate import cited, gold_citation, says_not_covered, score_answer, summarize

NO_ANSWER = "The documentation does not cover this."


def test_it_scores_an_answer_that_quotes_and_cites_its_source():
    reference = "Pass timeout=5 to requests.get() to stop waiting after five seconds. [2]"
    scores = score_answer("Pass timeout=5 to requests.get() to stop waiting after five seconds [2].", reference)
    assert scores["covered"] and scores["cites_gold"] and scores["f1"] == 1.0 and not scores["abstained"]
    wrong = score_answer("Use a Session to stop waiting. [1]", reference)
    assert not wrong["cites_gold"] and wrong["f1"] < 0.5


def test_it_scores_abstention_where_the_source_was_withheld():
    assert score_answer("The documentation does not cover this.", NO_ANSWER) == {"covered": False, "abstained": True}
    assert score_answer("Use timeout=5. [1]", NO_ANSWER) == {"covered": False, "abstained": False}
    assert says_not_covered("Sorry, the documents don't mention proxies.")
    assert not says_not_covered("Requests does not follow redirects for HEAD.")


def test_it_takes_any_of_several_gold_chunks_for_a_page_level_question():
    scores = score_answer("Use Session objects [3].", "Use a Session.", gold={1, 3})
    assert scores["cites_gold"] and scores["covered"]
    assert score_answer("Use Session objects [3].", "Use a Session.", gold=set())["cites_gold"] is False


def test_it_summarizes_each_metric_over_the_examples_it_applies_to():
    scores = [score_answer("a b c [1]", "a b c [1]"), score_answer("x [2]", "a b c [1]"),
              score_answer(NO_ANSWER, NO_ANSWER), score_answer("a [1]", NO_ANSWER)]
    summary = summarize(scores)
    assert summary["covered_examples"] == 2 and summary["withheld_examples"] == 2
    assert summary["citation_accuracy"] == 0.5 and summary["not_covered_accuracy"] == 0.5
    assert summary["false_abstention"] == 0.0 and 0.4 < summary["f1"] < 0.6
    assert cited("see [1] and [12]") == {1, 12} and gold_citation("x [1] y [3]") == 3


def test_it_answers_in_even_length_sorted_batches_each_as_it_would_alone(tiny_base_model):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.evaluate import generate_answers

    tokenizer = AutoTokenizer.from_pretrained(tiny_base_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_base_model, dtype=torch.float32)
    examples = [{"messages": [{"role": "user", "content": "deploy " * words},
                              {"role": "assistant", "content": "ok"}]} for words in (9, 2, 30, 5, 14)]
    widths: list[int] = []
    generate = model.generate
    model.generate = lambda **kwargs: widths.append(len(kwargs["input_ids"])) or generate(**kwargs)
    batched = generate_answers(model, tokenizer, examples, max_new_tokens=6, batch_size=4)
    assert widths == [3, 2]  # two even batches, not four and one
    alone = [generate_answers(model, tokenizer, [example], max_new_tokens=6)[0] for example in examples]
    assert batched == alone  # in the examples' order, whatever batch each went in
