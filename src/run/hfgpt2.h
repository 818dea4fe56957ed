/* hfgpt2: GPT-2 checkpoints of other programs, to and from innerloop's (il-ckpt import and export).
 *  - Hugging Face: a directory of config.json and model.safetensors, with the tensor names of the
 *    original `gpt2` repository (h.0.attn.c_attn.weight, ...) or save_pretrained's (transformer.h.0...).
 *    GPT-2's Conv1D stores its weights as (in, out), the transpose of innerloop's (out, in) Linear
 *    layout; c_attn's 3C outputs are q, k, v in that order, head by head, as innerloop's qkv.
 *  - llm.c: the gpt2_124M.bin of karpathy/llm.c (its own header and parameter order, padded vocabulary).
 * The mapping table and the refusals are documented in docs/formats.md. */
#ifndef IL_HFGPT2_H
#define IL_HFGPT2_H

/* Reads dir/config.json and dir/model.safetensors into a new checkpoint directory out (out/state.ckpt).
 * tokenizer: a tokenizer.bin whose id the checkpoint records, so that il-eval pairs it with that
 * tokenizer's shards; NULL records none. -1 with err_set() naming the file and the tensor or field. */
int hfgpt2_import(const char *dir, const char *out, const char *tokenizer);
/* Reads llm.c's parameter file into a new checkpoint directory out, as hfgpt2_import. */
int hfgpt2_import_llmc(const char *file, const char *out, const char *tokenizer);
/* Writes the model of checkpoint ckpt (a step directory or its state.ckpt) as a new Hugging Face
 * directory out: config.json and model.safetensors (F32), made under a temporary name and renamed. */
int hfgpt2_export(const char *ckpt, const char *out);

#endif
