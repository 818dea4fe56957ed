/* sample: text generation from a model, one token at a time.
 *
 * sample_pick draws one id from a logits vector (temperature, top-k, a seeded RNG) and stands alone so
 * that its distribution can be tested on hand-made logits. sample_generate runs the model over the last
 * T ids (the model's context window) and appends the picked id; it recomputes the whole window at every
 * step (no key/value cache): simple and exact, at T times the cost of a cached step. */
#ifndef IL_SAMPLE_H
#define IL_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "data/tokenizer.h"
#include "model/gpt.h"

/* One id of 0..V-1. temperature 0 picks the argmax (the lowest id among equals); otherwise the id is
 * drawn from softmax(logits / temperature) restricted to the top_k largest logits (top_k 0: all V; ties
 * at the boundary go to the lower ids). scratch holds V ints. One rng_uniform draw when temperature > 0,
 * none otherwise. */
int sample_pick(const float *logits, int V, double temperature, int top_k, rng_t *rng, int *scratch);

/* The ids of a prompt of len bytes (malloc'd, *n of them): the text encoded, or for an empty one GPT-2's
 * <|endoftext|> alone, the context a GPT-2 document starts from; an empty prompt is refused (-1 with
 * err_set() naming `what`) for the kinds without it. */
int sample_prompt(const tokenizer_t *t, const uint8_t *text, size_t len, const char *what, uint16_t **ids, size_t *n);

/* Checks the sampling settings against vocabulary V: -1 with err_set() naming the option. */
int sample_check(double temperature, int top_k, int V);

/* Appends n_new ids to ids[0..n) (ids has room for n + n_new, n >= 1), each picked from the model's
 * logits at the last position of the window of the last m->d.T ids. m needs batch capacity 1. */
void sample_generate(gpt_t *m, uint16_t *ids, size_t n, int n_new, double temperature, int top_k, rng_t *rng);

/* The tokenizer of checkpoint ckpt (a step directory or its state.ckpt) whose model has vocabulary V and
 * was trained on data of tokenizer id `id`: the file `path`, or when path is NULL the tokenizer.bin beside
 * the checkpoint's data.train_path (as il-prepare writes it; the byte tokenizer when there is none, as for
 * the trainer). -1 with err_set() naming both when its vocabulary or id is not the model's. */
int sample_tokenizer(const char *ckpt, const char *path, uint32_t id, int V, tokenizer_t *t);

#endif
