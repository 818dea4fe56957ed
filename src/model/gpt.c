#include "model/gpt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/err.h"

gpt_dims_t gpt_dims_of(const config_t *c)
{
    return (gpt_dims_t){.V = c->vocab_size, .T = c->seq_len, .L = c->n_layer, .NH = c->n_head, .C = c->d_model};
}

int gpt_dims_check(const gpt_dims_t *d)
{
    /* vocab_size 0 in a config stands for the shard's; a model has at least two tokens */
    if (d->V < 2 || d->V > CONFIG_MAX_VOCAB)
        return err_set("model.vocab_size = %d: must be in [2, %d]", d->V, CONFIG_MAX_VOCAB);
    if (d->T < 1 || d->T > CONFIG_MAX_SEQ) return err_set("model.seq_len = %d: must be in [1, %d]", d->T, CONFIG_MAX_SEQ);
    if (d->L < 1 || d->L > CONFIG_MAX_LAYER)
        return err_set("model.n_layer = %d: must be in [1, %d]", d->L, CONFIG_MAX_LAYER);
    if (d->NH < 1) return err_set("model.n_head = %d: must be at least 1", d->NH);
    if (d->C < 1 || d->C > CONFIG_MAX_WIDTH)
        return err_set("model.d_model = %d: must be in [1, %d]", d->C, CONFIG_MAX_WIDTH);
    if (d->C % d->NH != 0)
        return err_set("model.d_model = %d is not divisible by model.n_head = %d", d->C, d->NH);
    return 0;
}

/* The one definition of the parameter layout; every view and count derives from it. */
static int layout(const gpt_dims_t *d, gpt_tensor_t *t)
{
    size_t C = d->C, off = 0;
    int n = 0;
#define ADD(nm, lay, sz, dec)                                                                             \
    do {                                                                                                   \
        if (t) t[n] = (gpt_tensor_t){nm, lay, off, sz, dec};                                               \
        off += (sz);                                                                                       \
        n++;                                                                                               \
    } while (0)
    ADD("wte", -1, (size_t)d->V * C, 1);
    ADD("wpe", -1, (size_t)d->T * C, 1);
    for (int l = 0; l < d->L; l++) {
        ADD("h.ln1w", l, C, 0);
        ADD("h.ln1b", l, C, 0);
        ADD("h.qkvw", l, 3 * C * C, 1);
        ADD("h.qkvb", l, 3 * C, 0);
        ADD("h.projw", l, C * C, 1);
        ADD("h.projb", l, C, 0);
        ADD("h.ln2w", l, C, 0);
        ADD("h.ln2b", l, C, 0);
        ADD("h.fcw", l, 4 * C * C, 1);
        ADD("h.fcb", l, 4 * C, 0);
        ADD("h.fcprojw", l, 4 * C * C, 1);
        ADD("h.fcprojb", l, C, 0);
    }
    ADD("lnfw", -1, C, 0);
    ADD("lnfb", -1, C, 0);
#undef ADD
    return n;
}

int gpt_layout(const gpt_dims_t *d, gpt_tensor_t *t) { return layout(d, t); }

size_t gpt_param_count(const gpt_dims_t *d)
{
    gpt_tensor_t *t = err_calloc((size_t)layout(d, NULL), sizeof *t);
    int n = layout(d, t);
    size_t total = t[n - 1].offset + t[n - 1].size;
    free(t);
    return total;
}

static void make_view(gpt_view_t *v, const gpt_t *m, float *base)
{
    const gpt_tensor_t *t = m->tensors;
    v->wte = base + t[0].offset;
    v->wpe = base + t[1].offset;
    v->blocks = err_calloc((size_t)m->d.L, sizeof *v->blocks);
    for (int l = 0; l < m->d.L; l++) {
        float *p[GPT_TENSORS_PER_BLOCK];
        for (int i = 0; i < GPT_TENSORS_PER_BLOCK; i++) p[i] = base + t[2 + l * GPT_TENSORS_PER_BLOCK + i].offset;
        v->blocks[l] = (gpt_block_t){p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]};
    }
    v->lnfw = base + t[m->n_tensors - 2].offset;
    v->lnfb = base + t[m->n_tensors - 1].offset;
}

/* Elements of each activation buffer and of each activation-gradient buffer (GPT_ACTS, GPT_GACTS, in field
 * order) for a batch capacity of B; in double, so that sizes a memory estimate must refuse do not wrap
 * around first. */
#define ONE(name, size) +1
enum { N_ACTS = 0 GPT_ACTS(ONE), N_GACTS = 0 GPT_GACTS(ONE) };
#undef ONE
static void act_sizes(const gpt_dims_t *d, int B, double as[N_ACTS], double gs[N_GACTS])
{
    double L = d->L, BT = (double)B * d->T, C = d->C, NH = d->NH, T = d->T, V = d->V;
    double R = gpt_loss_rows(d->V, (size_t)B * d->T);
#define SIZE(name, size) size,
    const double a[N_ACTS] = {GPT_ACTS(SIZE)};
    const double g[N_GACTS] = {GPT_GACTS(SIZE)};
#undef SIZE
    memcpy(as, a, sizeof a);
    memcpy(gs, g, sizeof g);
}

int gpt_loss_rows(int V, size_t N)
{
    size_t rows = GPT_LOSS_FLOATS / (size_t)V;
    if (rows > N) rows = N;
    return rows < 1 ? 1 : (int)rows;
}

void gpt_memory(const gpt_dims_t *d, int B, double *params, double *acts)
{
    double as[N_ACTS], gs[N_GACTS], n = 0;
    act_sizes(d, B, as, gs);
    for (int i = 0; i < N_ACTS; i++) n += as[i];
    for (int i = 0; i < N_GACTS; i++) n += gs[i];
    *params = 2.0 * (double)gpt_param_count(d) * sizeof(float);
    *acts = n * sizeof(float);
}

/* Carves `fields` consecutive regions of the given sizes out of one allocation. */
static float *carve(float **const *fields, const double *sizes, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++) total += (size_t)sizes[i];
    float *mem = err_calloc(total, sizeof(float)), *p = mem;
    for (int i = 0; i < n; i++) {
        *fields[i] = p;
        p += (size_t)sizes[i];
    }
    return mem;
}

void gpt_create(gpt_t *m, const gpt_dims_t *d, int B, const kernels_ops_t *k)
{
    memset(m, 0, sizeof *m);
    m->d = *d;
    m->k = k;
    m->B = B;
    m->loss_rows = gpt_loss_rows(d->V, (size_t)B * d->T);
    m->n_tensors = layout(d, NULL);
    m->tensors = err_calloc((size_t)m->n_tensors, sizeof *m->tensors);
    layout(d, m->tensors);
    m->n_params = gpt_param_count(d);
    m->params = err_calloc(m->n_params, sizeof(float));
    m->grads = err_calloc(m->n_params, sizeof(float));
    make_view(&m->p, m, m->params);
    make_view(&m->g, m, m->grads);

    double as[N_ACTS], gs[N_GACTS];
    act_sizes(d, B, as, gs);
    gpt_acts_t *a = &m->a;
#define ACT(name, size) &a->name,
    float **const af[N_ACTS] = {GPT_ACTS(ACT)};
#undef ACT
    m->act_mem = carve(af, as, N_ACTS);
    gpt_gacts_t *g = &m->ga;
#define GACT(name, size) &g->name,
    float **const gf[N_GACTS] = {GPT_GACTS(GACT)};
#undef GACT
    m->gact_mem = carve(gf, gs, N_GACTS);
}

void gpt_destroy(gpt_t *m)
{
    free(m->tensors);
    free(m->params);
    free(m->grads);
    free(m->p.blocks);
    free(m->g.blocks);
    free(m->act_mem);
    free(m->gact_mem);
    memset(m, 0, sizeof *m);
}

void gpt_init_params(gpt_t *m, rng_t *rng)
{
    float resid_scale = 1.0f / sqrtf(2.0f * m->d.L);
    for (int i = 0; i < m->n_tensors; i++) {
        const gpt_tensor_t *t = &m->tensors[i];
        float *w = m->params + t->offset;
        int is_ln_gain = !strcmp(t->name, "h.ln1w") || !strcmp(t->name, "h.ln2w") || !strcmp(t->name, "lnfw");
        if (!t->decay) {
            for (size_t j = 0; j < t->size; j++) w[j] = is_ln_gain ? 1.0f : 0.0f;
            continue;
        }
        float std = 0.02f;
        if (!strcmp(t->name, "h.projw") || !strcmp(t->name, "h.fcprojw")) std *= resid_scale;
        for (size_t j = 0; j < t->size; j++) w[j] = std * rng_normal(rng);
    }
}

/* Rows of the loss chunk that starts at row r0 of N: loss_rows, or what is left. */
static int loss_chunk(const gpt_t *m, int r0, int N) { return N - r0 < m->loss_rows ? N - r0 : m->loss_rows; }

float gpt_forward(gpt_t *m, const int32_t *inputs, const int32_t *targets, int B, int T)
{
    CHECK(B >= 1 && B <= m->B && T >= 1 && T <= m->d.T, "batch %dx%d exceeds capacity %dx%d", B, T, m->B, m->d.T);
    const kernels_ops_t *k = m->k;
    int C = m->d.C, NH = m->d.NH, V = m->d.V, N = B * T;
    size_t NC = (size_t)N * C;
    gpt_acts_t *a = &m->a;
    m->inputs = inputs;
    m->targets = targets;
    m->b = B;
    m->t = T;

    k->encoder_forward(a->resid, inputs, m->p.wte, m->p.wpe, B, T, C);
    for (int l = 0; l < m->d.L; l++) {
        const gpt_block_t *w = &m->p.blocks[l];
        float *h = a->resid + l * NC, *mid = a->resid_mid + l * NC, *out = a->resid + (l + 1) * NC;
        float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * 3 * NC, *atty = a->atty + l * NC;
        float *ln2 = a->ln2 + l * NC, *fch = a->fch + l * 4 * NC, *fcg = a->fch_gelu + l * 4 * NC;
        k->layernorm_forward(ln1, a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, h, w->ln1w, w->ln1b, N, C);
        k->matmul_forward(qkv, ln1, w->qkvw, w->qkvb, N, C, 3 * C, 0);
        k->attention_forward(atty, a->att + (size_t)l * B * NH * T * T, qkv, B, T, C, NH);
        /* the residual add is the matmul's accumulate: mid = h, then mid += atty projw^T + projb */
        memcpy(mid, h, NC * sizeof *mid);
        k->matmul_forward(mid, atty, w->projw, w->projb, N, C, C, 1);
        k->layernorm_forward(ln2, a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, mid, w->ln2w, w->ln2b, N, C);
        k->matmul_forward(fch, ln2, w->fcw, w->fcb, N, C, 4 * C, 0);
        k->gelu_forward(fcg, fch, 4 * NC);
        memcpy(out, mid, NC * sizeof *out);
        k->matmul_forward(out, fcg, w->fcprojw, w->fcprojb, N, 4 * C, C, 1);
    }
    k->layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->resid + m->d.L * NC, m->p.lnfw, m->p.lnfb, N, C);
    for (int r0 = 0; r0 < N; r0 += m->loss_rows) {
        int nr = loss_chunk(m, r0, N);
        k->matmul_forward(a->logits, a->lnf + (size_t)r0 * C, m->p.wte, NULL, nr, C, V, 0);
        k->crossentropy_forward(a->logits, a->losses + r0, targets + r0, nr, V);
    }
    double sum = 0;
    for (int i = 0; i < N; i++) sum += a->losses[i];
    return (float)(sum / N);
}

void gpt_zero_grad(gpt_t *m) { memset(m->grads, 0, m->n_params * sizeof *m->grads); }

/* With param_grads 0, the parameter gradients are neither computed nor touched. */
static void backward(gpt_t *m, float loss_scale, int param_grads)
{
    const kernels_ops_t *k = m->k;
    int B = m->b, T = m->t, C = m->d.C, NH = m->d.NH, V = m->d.V, L = m->d.L, N = B * T;
    size_t NC = (size_t)N * C;
    gpt_acts_t *a = &m->a;
    gpt_gacts_t *g = &m->ga;

    const gpt_view_t *dp = param_grads ? &m->g : NULL;
    /* the logits again, a chunk of rows at a time as in forward (rewriting the same losses), turned into
     * dlogits; tied unembedding: their weight gradient lands in wte */
    for (int r0 = 0; r0 < N; r0 += m->loss_rows) {
        int nr = loss_chunk(m, r0, N);
        const float *x = a->lnf + (size_t)r0 * C;
        k->matmul_forward(a->logits, x, m->p.wte, NULL, nr, C, V, 0);
        k->crossentropy_forward(a->logits, a->losses + r0, m->targets + r0, nr, V);
        k->crossentropy_backward(a->logits, m->targets + r0, loss_scale / N, nr, V);
        k->matmul_backward(g->dln + (size_t)r0 * C, dp ? dp->wte : NULL, NULL, a->logits, x, m->p.wte, nr, C, V);
    }
    float *dtop = g->dresid + L * NC;
    memset(dtop, 0, NC * sizeof *dtop);
    k->layernorm_backward(dtop, dp ? dp->lnfw : NULL, dp ? dp->lnfb : NULL, g->dln, a->resid + L * NC, m->p.lnfw, a->lnf_mean,
                          a->lnf_rstd, N, C);
    for (int l = L - 1; l >= 0; l--) {
        const gpt_block_t *w = &m->p.blocks[l], none = {0}, *dw = dp ? &dp->blocks[l] : &none;
        float *h = a->resid + l * NC, *mid = a->resid_mid + l * NC;
        float *dout = g->dresid + (l + 1) * NC, *dmid = g->dresid_mid + l * NC, *dh = g->dresid + l * NC;
        float *fch = a->fch + l * 4 * NC;
        /* MLP half: out = mid + fcproj(gelu(fc(ln2(mid)))) */
        k->matmul_backward(g->dfch, dw->fcprojw, dw->fcprojb, dout, a->fch_gelu + l * 4 * NC, w->fcprojw, N, 4 * C, C);
        k->gelu_backward(g->dfch, fch, g->dfch, 4 * NC);
        k->matmul_backward(g->dln, dw->fcw, dw->fcb, g->dfch, a->ln2 + l * NC, w->fcw, N, C, 4 * C);
        memcpy(dmid, dout, NC * sizeof *dmid);
        k->layernorm_backward(dmid, dw->ln2w, dw->ln2b, g->dln, mid, w->ln2w, a->ln2_mean + (size_t)l * N,
                              a->ln2_rstd + (size_t)l * N, N, C);
        /* attention half: mid = h + proj(attn(qkv(ln1(h)))) */
        k->matmul_backward(g->datty, dw->projw, dw->projb, dmid, a->atty + l * NC, w->projw, N, C, C);
        k->attention_backward(g->dqkv, g->datt, g->datty, a->qkv + l * 3 * NC, a->att + (size_t)l * B * NH * T * T,
                              B, T, C, NH);
        k->matmul_backward(g->dln, dw->qkvw, dw->qkvb, g->dqkv, a->ln1 + l * NC, w->qkvw, N, C, 3 * C);
        memcpy(dh, dmid, NC * sizeof *dh);
        k->layernorm_backward(dh, dw->ln1w, dw->ln1b, g->dln, h, w->ln1w, a->ln1_mean + (size_t)l * N,
                              a->ln1_rstd + (size_t)l * N, N, C);
        if (dp && m->on_block_done) m->on_block_done(m->hook_ctx, l);
    }
    if (dp) k->encoder_backward(m->g.wte, m->g.wpe, g->dresid, m->inputs, B, T, C);
}

void gpt_backward(gpt_t *m, float loss_scale) { backward(m, loss_scale, 1); }

void gpt_backward_acts(gpt_t *m, float loss_scale) { backward(m, loss_scale, 0); }

double gpt_flops_per_token(const gpt_dims_t *d, int T)
{
    double C = d->C, matmul_weights = (double)d->L * 12.0 * C * C + (double)d->V * C;
    return 6.0 * matmul_weights + 12.0 * d->L * (double)T * C;
}
