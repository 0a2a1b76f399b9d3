// AudioWorklet processor that measures tones in what the page hears. It cuts the first input
// channel into blocks (4096 samples: 11.7 Hz bins at 48 kHz), weights each with a Hann window and
// takes the windowed DFT at every probe frequency exactly (not at the nearest FFT bin), so a tone
// on a probe reads its true level whatever its phase, and tones 60 Hz or more apart do not leak
// into each other (Hann side lobes are down by more than 60 dB there). It sums each frequency's
// fitted sine power (A^2, A the amplitude, full scale 1) over blocks; the page reads the sums and
// turns their means into dB, where a full-scale sine is 0 dB.
//
// Messages in: { cmd: 'reset' } forgets every block so far; { cmd: 'read', id } answers
// { id, blocks, power: [mean A^2 per frequency], peak } (peak: largest |sample| seen).
class ProbeProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { freqs, block } = options.processorOptions;
    this.freqs = freqs;
    this.block = block;
    this.buf = new Float32Array(block);
    this.fill = 0;
    this.win = new Float32Array(block);
    let wsum = 0;
    for (let n = 0; n < block; n++) {
      this.win[n] = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / block);
      wsum += this.win[n];
    }
    this.wsum = wsum;
    // Window-weighted cosine and sine tables per frequency: one pass per block.
    this.cos = freqs.map((f) => {
      const t = new Float32Array(block);
      for (let n = 0; n < block; n++) t[n] = this.win[n] * Math.cos((2 * Math.PI * f * n) / sampleRate);
      return t;
    });
    this.sin = freqs.map((f) => {
      const t = new Float32Array(block);
      for (let n = 0; n < block; n++) t[n] = this.win[n] * Math.sin((2 * Math.PI * f * n) / sampleRate);
      return t;
    });
    this.reset();
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m.cmd === 'reset') this.reset();
      else if (m.cmd === 'read') {
        const power = this.sum.map((s) => (this.blocks ? s / this.blocks : 0));
        this.port.postMessage({ id: m.id, blocks: this.blocks, power, peak: this.peak });
      }
    };
  }

  reset() {
    this.sum = this.freqs.map(() => 0);
    this.blocks = 0;
    this.peak = 0;
    this.fill = 0;
  }

  analyse() {
    const x = this.buf;
    for (let i = 0; i < this.freqs.length; i++) {
      const c = this.cos[i];
      const s = this.sin[i];
      let re = 0;
      let im = 0;
      for (let n = 0; n < this.block; n++) {
        re += x[n] * c[n];
        im += x[n] * s[n];
      }
      // A sine of amplitude A gives |X| = A * sum(w) / 2.
      const a = (2 * Math.sqrt(re * re + im * im)) / this.wsum;
      this.sum[i] += a * a;
    }
    this.blocks++;
  }

  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) {
      for (let k = 0; k < ch.length; k++) {
        const v = ch[k];
        if (Math.abs(v) > this.peak) this.peak = Math.abs(v);
        this.buf[this.fill++] = v;
        if (this.fill === this.block) {
          this.analyse();
          this.fill = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor('sb-probe', ProbeProcessor);
