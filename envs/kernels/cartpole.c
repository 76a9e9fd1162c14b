/* CartPole-v1 for a batch of envs in one pass over plain arrays (rlkit.envs.native).
 *
 * step: for every env, Gymnasium's Euler step (force +-10 N, tau 0.02 s), its
 *   termination (|x| > 2.4 or |theta| > 12 degrees), reward 1, the time limit, the
 *   episode sums, and where the episode ended a fresh initial state drawn from that env's
 *   own generator (splitmix64, one 64-bit state per env): SAME_STEP autoreset, the
 *   returned observation is the new episode's first one, the last one is in final_obs.
 * draw: fresh initial states for every env (reset), each variable uniform in [low, high). */
#include <math.h>
#include <stdint.h>

static inline uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/* uniform in [0, 1) with 24 random bits, as a float32 can hold them */
static inline float uniform(uint64_t *s) {
  return (float)(splitmix64(s) >> 40) * (1.0f / 16777216.0f);
}

void step(int64_t n, float *restrict state, const int64_t *restrict actions,
          float *restrict floats, uint8_t *restrict term, uint8_t *restrict trunc,
          uint8_t *restrict done,
          int64_t *restrict elapsed, float *restrict returns, int64_t *restrict ep_length,
          uint64_t *restrict rng, int64_t max_steps, float low, float high) {
  /* floats: one row of 10 per env: obs (4), final_obs (4), reward, episode return;
     term, trunc, done: one flag per env each */
  const float gravity = 9.8f, masspole = 0.1f, total_mass = 1.1f, length = 0.5f;
  const float polemass_length = 0.05f, force_mag = 10.0f, tau = 0.02f;
  const float theta_threshold = (float)(12 * 2 * M_PI / 360);
  for (int64_t i = 0; i < n; i++) {
    float *s = state + 4 * i, *o = floats + 10 * i, *f = o + 4;
    const float x = s[0], x_dot = s[1], theta = s[2], theta_dot = s[3];
    const float force = actions[i] ? force_mag : -force_mag;
    const float costheta = cosf(theta), sintheta = sinf(theta);
    const float temp = (force + polemass_length * theta_dot * theta_dot * sintheta) / total_mass;
    const float thetaacc = (gravity * sintheta - costheta * temp) /
                           (length * (4.0f / 3.0f - masspole * costheta * costheta / total_mass));
    const float xacc = temp - polemass_length * thetaacc * costheta / total_mass;
    f[0] = x + tau * x_dot;
    f[1] = x_dot + tau * xacc;
    f[2] = theta + tau * theta_dot;
    f[3] = theta_dot + tau * thetaacc;
    const uint8_t ended = (f[0] < -2.4f) | (f[0] > 2.4f) | (f[2] < -theta_threshold) |
                          (f[2] > theta_threshold);
    const int64_t steps = elapsed[i] + 1;
    const float total = returns[i] + 1.0f;
    const uint8_t cut = steps >= max_steps;
    o[8] = 1.0f;
    o[9] = total;
    term[i] = ended;
    trunc[i] = cut;
    done[i] = ended | cut;
    ep_length[i] = steps;
    if (ended | cut) { /* SAME_STEP autoreset: the next episode's first state */
      for (int d = 0; d < 4; d++) s[d] = o[d] = low + (high - low) * uniform(&rng[i]);
      elapsed[i] = 0;
      returns[i] = 0.0f;
    } else {
      for (int d = 0; d < 4; d++) s[d] = o[d] = f[d];
      elapsed[i] = steps;
      returns[i] = total;
    }
  }
}

void draw(int64_t n, int64_t dim, float *restrict state, uint64_t *restrict rng, float low,
          float high) {
  for (int64_t i = 0; i < n; i++)
    for (int64_t d = 0; d < dim; d++) state[dim * i + d] = low + (high - low) * uniform(&rng[i]);
}
