#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "deck_error.hpp"
#include "io/deck_schema.hpp"
#include "io/run_deck.hpp"

using kmoe::parse_run_deck_string;

namespace {

// Parses `text` and returns the error message ("" if it parsed).
using kmoe::testing::deck_error;

void expect_error_mentions(const std::string& text, std::initializer_list<const char*> words) {
  const std::string message = deck_error(text);
  ASSERT_FALSE(message.empty()) << "deck was accepted:\n" << text;
  EXPECT_NE(message.find("bad.toml"), std::string::npos) << message;
  for (const char* word : words) EXPECT_NE(message.find(word), std::string::npos) << message;
}

TEST(RunDeck, DefaultsAreTheResearchConfiguration) {
  const auto deck = parse_run_deck_string("", "empty.toml");
  EXPECT_EQ(deck.model.d_model, 384);
  EXPECT_EQ(deck.model.n_heads, 8);
  EXPECT_EQ(deck.moe.num_experts, 8);
  EXPECT_EQ(deck.moe.top_k, 2);
  EXPECT_DOUBLE_EQ(deck.optim.muon_lr, 0.01);
  EXPECT_DOUBLE_EQ(deck.optim.adamw_lr, 0.001);
  EXPECT_DOUBLE_EQ(deck.moe.load_balancing_weight, 0.01);
}

TEST(RunDeck, ValuesAreRead) {
  const auto deck = parse_run_deck_string(
      "[run]\nname = \"cell3\"\nseed = 43\n[moe]\nnoise_std = 0.5\ntop_k = 1\n"
      "[model]\nffn = \"dense\"\ndropout = 0\n[optim]\ndecay = \"linear\"\n",
      "ok.toml");
  EXPECT_EQ(deck.run.name, "cell3");
  EXPECT_EQ(deck.run.seed, 43);
  EXPECT_DOUBLE_EQ(deck.moe.noise_std, 0.5);
  EXPECT_EQ(deck.moe.top_k, 1);
  EXPECT_EQ(deck.model.ffn, "dense");
  EXPECT_DOUBLE_EQ(deck.model.dropout, 0.0);  // an integer is accepted for a number
  EXPECT_EQ(deck.optim.decay, "linear");
}

TEST(RunDeck, LoadBalancingEndDefaultsToStart) {
  auto deck = parse_run_deck_string("[moe]\nload_balancing_weight = 0.05\n", "ok.toml");
  EXPECT_DOUBLE_EQ(deck.moe.load_balancing_weight_end, 0.05);
  deck = parse_run_deck_string(
      "[moe]\nload_balancing_weight = 0.05\nload_balancing_weight_end = 0.01\n"
      "lb_warmup_frac = 0.05\nlb_decay_end_frac = 0.3\n",
      "ok.toml");
  EXPECT_DOUBLE_EQ(deck.moe.load_balancing_weight_end, 0.01);
}

TEST(RunDeck, OverridesApplyOnTopOfTheFile) {
  const auto deck = parse_run_deck_string("[moe]\nnoise_std = 0.1\n", "ok.toml",
                                          {"moe.noise_std=0.5", "run.name=cell7", "moe.top_k=3"});
  EXPECT_DOUBLE_EQ(deck.moe.noise_std, 0.5);
  EXPECT_EQ(deck.run.name, "cell7");
  EXPECT_EQ(deck.moe.top_k, 3);
}

TEST(RunDeck, StringsWithQuotesAndLineBreaksRoundTrip) {
  const auto deck = parse_run_deck_string("[data]\ncorpus = \"a\\nb\\\"c\\\\d\\te\"\n", "strings.toml");
  ASSERT_EQ(deck.data.corpus, "a\nb\"c\\d\te");
  EXPECT_EQ(parse_run_deck_string(kmoe::to_toml(deck), "resolved.toml").data.corpus, deck.data.corpus);
  EXPECT_EQ(kmoe::toml_string("x\ny\"\x01"), "\"x\\ny\\\"\\u0001\"");
}

TEST(RunDeck, ResolvedDeckRoundTrips) {
  const auto deck = parse_run_deck_string("[moe]\nnoise_std = 0.25\n[data]\ncorpus = \"a\\\"b\"\n", "ok.toml");
  const auto again = parse_run_deck_string(kmoe::to_toml(deck), "resolved.toml");
  EXPECT_EQ(kmoe::to_toml(again), kmoe::to_toml(deck));
  EXPECT_DOUBLE_EQ(again.moe.noise_std, 0.25);
  EXPECT_EQ(again.data.corpus, "a\"b");
}

TEST(RunDeckErrors, UnknownKeySuggestsTheNearestKey) {
  expect_error_mentions("[moe]\nnoise_stdd = 0.1\n", {"moe.noise_stdd", "did you mean 'moe.noise_std'"});
}
TEST(RunDeckErrors, KeyInTheWrongSectionPointsToTheRightOne) {
  expect_error_mentions("[model]\ntop_k = 2\n", {"model.top_k", "moe.top_k"});
}
TEST(RunDeckErrors, UnknownSectionSuggestsTheNearestSection) {
  expect_error_mentions("[optimizer]\nmuon_lr = 0.1\n", {"optimizer", "did you mean 'optim'"});
}
TEST(RunDeckErrors, TopLevelKeyOutsideASection) { expect_error_mentions("seed = 42\n", {"seed"}); }
TEST(RunDeckErrors, IntegerKeyGivenAString) {
  expect_error_mentions("[model]\nd_model = \"384\"\n", {"model.d_model", "integer"});
}
TEST(RunDeckErrors, IntegerKeyGivenAFloat) {
  expect_error_mentions("[train]\nbatch_size = 2.5\n", {"train.batch_size", "integer"});
}
TEST(RunDeckErrors, NumberKeyGivenABoolean) {
  expect_error_mentions("[moe]\nnoise_std = true\n", {"moe.noise_std", "number"});
}
TEST(RunDeckErrors, BooleanKeyGivenAString) {
  expect_error_mentions("[model]\nweight_sharing = \"yes\"\n", {"model.weight_sharing", "true or false"});
}
TEST(RunDeckErrors, NegativeNoise) {
  expect_error_mentions("[moe]\nnoise_std = -0.1\n", {"moe.noise_std", "[0, 100]"});
}
TEST(RunDeckErrors, DropoutOfOne) { expect_error_mentions("[model]\ndropout = 1.0\n", {"model.dropout", "[0, 1)"}); }
TEST(RunDeckErrors, ZeroExperts) {
  expect_error_mentions("[moe]\nnum_experts = 0\n", {"moe.num_experts", "[1, 1024]"});
}
TEST(RunDeckErrors, TopKAboveExpertCount) {
  expect_error_mentions("[moe]\nnum_experts = 4\ntop_k = 5\n", {"moe.top_k", "moe.num_experts"});
}
TEST(RunDeckErrors, TopOneWithRenormalisedGatesWouldFreezeTheRouter) {
  expect_error_mentions("[moe]\ntop_k = 1\n", {"moe.gate_norm", "top_k = 1", "no gradient", "\"none\""});
  const auto top1 = parse_run_deck_string("[moe]\ntop_k = 1\ngate_norm = \"none\"\n", "top1.toml");
  EXPECT_EQ(top1.moe.gate_norm, "none");
  const auto dense = parse_run_deck_string("[model]\nffn = \"dense\"\n[moe]\ntop_k = 1\n", "dense.toml");
  EXPECT_EQ(dense.moe.top_k, 1);  // no router in a dense model
}
TEST(RunDeckErrors, InvalidRoutingCombinationsNameTheKeys) {
  expect_error_mentions("[moe]\nnum_experts = 8\ngroups = 3\n", {"moe.groups", "divide", "8"});
  expect_error_mentions("[moe]\ngroups = 2\ngroup_topk = 4\n", {"moe.group_topk", "<= moe.groups"});
  expect_error_mentions("[moe]\nnum_experts = 8\ngroups = 4\ngroup_topk = 1\ntop_k = 3\n",
                        {"moe.top_k", "group_topk", "1 x 2"});
  expect_error_mentions("[moe]\nnum_experts = 8\ngroups = 4\ngroup_topk = 3\ntop_k = 2\ngroup_score = \"topk_sum\"\n",
                        {"moe.group_score", "topk_sum", "group_topk <= top_k"});
  expect_error_mentions("[moe]\nscore = \"relu\"\n", {"moe.score", "softmax", "sigmoid"});
  expect_error_mentions("[moe]\nrouting = \"random\"\n", {"moe.noise_std", "random", "nothing"});
  expect_error_mentions("[moe]\nload_balancing_layers = \"pooled\"\nload_balancing_scope = \"sequence\"\n",
                        {"moe.load_balancing_layers", "pooled", "sequence"});
  expect_error_mentions("[moe]\nshared_gate = \"sigmoid\"\n", {"moe.shared_gate", "shared_experts = 0", "nothing"});
  expect_error_mentions("[moe]\nshared_expert_d_ff = 64\n", {"moe.shared_expert_d_ff", "shared_experts"});
  expect_error_mentions("[model]\nffn = \"dense\"\n[moe]\nshared_experts = 1\n", {"moe.shared_experts", "dense"});
  expect_error_mentions("[moe]\nroute_scale = 0\n", {"moe.route_scale"});
  const auto deck = parse_run_deck_string(
      "[moe]\nscore = \"sigmoid\"\nroute_scale = 2.5\ngroups = 4\ngroup_topk = 2\ngroup_score = \"topk_sum\"\n",
      "dsv3.toml");
  EXPECT_EQ(deck.moe.groups, 4);
}

TEST(RunDeckErrors, EachRoutingFamilyRefusesWhatItCannotUse) {
  const std::string no_lb = "load_balancing_weight = 0\nload_balancing_weight_end = 0\n";
  const std::string ec = "[moe]\nrouting = \"expert_choice\"\n";
  expect_error_mentions(ec + "gate_norm = \"none\"\n" + no_lb, {"moe.capacity_factor", "> 0", "expert_choice"});
  expect_error_mentions(ec + "capacity_factor = 1.0\n" + no_lb, {"moe.gate_norm", "\"none\"", "expert_choice"});
  expect_error_mentions(ec + "capacity_factor = 1.0\ngate_norm = \"none\"\n",
                        {"moe.load_balancing_weight", "must be 0", "by construction"});
  const std::string hash = "[moe]\nrouting = \"hash\"\nnoise_std = 0\n" + no_lb;
  expect_error_mentions("[moe]\nrouting = \"hash\"\n" + no_lb, {"moe.noise_std", "hash"});
  expect_error_mentions(hash + "z_loss_weight = 0.1\n", {"moe.z_loss_weight", "no logits"});
  expect_error_mentions(hash + "score = \"sigmoid\"\n", {"moe.score", "hash"});
  expect_error_mentions(hash + "aux_free_bias = true\n", {"moe.aux_free_bias", "hash"});
  expect_error_mentions(hash + "groups = 2\n", {"moe.groups", "hash"});
  expect_error_mentions(hash + "router_muon = false\n", {"moe.router_muon", "no router"});
  EXPECT_EQ(parse_run_deck_string(hash + "top_k = 1\n", "hash1.toml").moe.top_k, 1);  // no router to freeze
  expect_error_mentions("[moe]\nrouting = \"sinkhorn\"\nnoise_std = 0\n", {"moe.load_balancing_weight", "sinkhorn"});
  expect_error_mentions("[moe]\nrouting = \"sinkhorn\"\n" + no_lb, {"moe.noise_std", "sinkhorn"});
  expect_error_mentions("[moe]\nhash_table = \"balanced\"\n", {"moe.hash_table", "nothing"});
  expect_error_mentions("[moe]\nexpert_choice_group = \"sequence\"\n", {"moe.expert_choice_group", "nothing"});
  expect_error_mentions("[moe]\ndrop_policy = \"probability\"\n", {"moe.drop_policy", "capacity_factor > 0"});
  expect_error_mentions("[moe]\nrenorm_after_drop = true\n", {"moe.renorm_after_drop", "capacity_factor > 0"});
  expect_error_mentions(ec + "capacity_factor = 1.0\ngate_norm = \"none\"\n" + no_lb + "renorm_after_drop = true\n",
                        {"moe.renorm_after_drop", "token-choice"});
  expect_error_mentions("[moe]\nrouting = \"expert\"\n", {"moe.routing", "expert_choice", "hash", "sinkhorn"});
}

TEST(RunDeckErrors, AnUnterminatedQuoteInSetIsAnError) {
  try {
    parse_run_deck_string("", "ok.toml", {"data.corpus=\"/x"});
    FAIL() << "accepted";
  } catch (const kmoe::Error& err) {
    EXPECT_NE(std::string(err.what()).find("not valid TOML"), std::string::npos) << err.what();
  }
  EXPECT_EQ(parse_run_deck_string("", "ok.toml", {"data.corpus=/x"}).data.corpus, "/x");  // a bare word
}
TEST(RunDeckErrors, UnknownGateNormListsTheChoices) {
  expect_error_mentions("[moe]\ngate_norm = \"softmax\"\n", {"moe.gate_norm", "\"selected\"", "\"none\""});
}
TEST(RunDeckErrors, HeadsThatDoNotDivideWidth) {
  expect_error_mentions("[model]\nd_model = 100\nn_heads = 3\n", {"model.n_heads", "d_model"});
}
TEST(RunDeckErrors, OddHeadDimensionForRope) {
  expect_error_mentions("[model]\nd_model = 24\nn_heads = 8\n", {"model.n_heads", "even"});
}
TEST(RunDeckErrors, UnknownFfnKindListsTheChoices) {
  expect_error_mentions("[model]\nffn = \"moe2\"\n", {"model.ffn", "\"moe\"", "\"dense\""});
}
TEST(RunDeckErrors, UnknownDecayKind) {
  expect_error_mentions("[optim]\ndecay = \"exp\"\n", {"optim.decay", "cosine", "linear", "constant"});
}
TEST(RunDeckErrors, UnknownPrecision) {
  expect_error_mentions("[train]\nprecision = \"fp8\"\n", {"train.precision", "fp32"});
}
TEST(RunDeckErrors, ScheduleDecayEndsBeforeWarmup) {
  expect_error_mentions("[moe]\nlb_warmup_frac = 0.5\nlb_decay_end_frac = 0.3\n",
                        {"moe.lb_decay_end_frac", "moe.lb_warmup_frac"});
}
TEST(RunDeckErrors, MinLrRatioAboveOne) {
  expect_error_mentions("[optim]\nmin_lr_ratio = 1.5\n", {"optim.min_lr_ratio", "[0, 1]"});
}
TEST(RunDeckErrors, ZeroMaxSteps) { expect_error_mentions("[train]\nmax_steps = 0\n", {"train.max_steps"}); }
TEST(RunDeckErrors, ValidationShardMissing) {
  expect_error_mentions("[data]\ntrain_shard = \"t.bin\"\n", {"data.val_shard"});
}
TEST(RunDeckErrors, SectionGivenAsAValue) { expect_error_mentions("moe = 3\n", {"moe"}); }
TEST(RunDeckErrors, SyntaxErrorGivesTheLine) { expect_error_mentions("[moe]\ntop_k = = 2\n", {"bad.toml:2"}); }
TEST(RunDeckErrors, ErrorsGiveTheLineOfTheKey) {
  expect_error_mentions("[run]\nname = \"x\"\n\n[moe]\ntop_k = -1\n", {"bad.toml:5", "moe.top_k"});
}
TEST(RunDeckErrors, BadOverrideNamesTheKey) {
  const std::string message = deck_error("", {"moe.top_kk=3"});
  EXPECT_NE(message.find("moe.top_kk"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'moe.top_k'"), std::string::npos) << message;
  EXPECT_NE(deck_error("", {"noequals"}).find("noequals"), std::string::npos);
}
TEST(RunDeckErrors, MissingFileIsNamed) {
  try {
    kmoe::load_run_deck("/nonexistent/deck.toml");
    FAIL() << "no error";
  } catch (const kmoe::Error& err) {
    EXPECT_NE(std::string(err.what()).find("/nonexistent/deck.toml"), std::string::npos);
  }
}

}  // namespace

namespace {

TEST(DeckSchema, FloatsPrintInShortestFormAndTheAuxEndSaysItFollowsTheStart) {
  const std::string schema = kmoe::schema_reference();
  EXPECT_NE(schema.find("\nnoise_std = 0.1\n"), std::string::npos);
  EXPECT_EQ(schema.find("0.10000000000000001"), std::string::npos);
  EXPECT_NE(schema.find("load_balancing_weight_end = (follows moe.load_balancing_weight"), std::string::npos);
  EXPECT_EQ(kmoe::float_text(2.0), "2.0");
  EXPECT_EQ(kmoe::float_text(1e-8), "1e-08");
}

}  // namespace
