# Writes torchaudio-logmel.tsv: torchaudio's log-mel features of the fixture WAVs, which LogMelFeaturesTests
# compares ours with. Debian 12: apt-get install python3-torchaudio (torch 1.13, torchaudio 0.13.1), then
#   /usr/bin/python3 torchaudio_reference.py   (in this folder)
# Our framing (frame t = samples [160t, 160t+400), Hann(400) zero-padded to 512) is torchaudio's MelSpectrogram
# with center=False on the signal padded with 56 zeros each side.
import math, wave, torch, torchaudio

mel = torchaudio.transforms.MelSpectrogram(sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=80,
                                           center=False, mel_scale="htk", norm=None, power=2.0)
with open("torchaudio-logmel.tsv", "w") as out:
    out.write("# file\tsamples\tframes\tframe\tkind\t80 values (kind logmel: log(mel + 1e-6); normalized: per-bin mean 0, std 1)\n")
    for name in ["en-01694.wav", "es-01788.wav", "en-00469.wav"]:
        with wave.open(name) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            pcm = w.readframes(w.getnframes())
        x = torch.frombuffer(bytearray(pcm), dtype=torch.int16).float() / 32768
        logmel = torch.log(mel(torch.nn.functional.pad(x, (56, 56))) + 1e-6).T  # [frames, 80]
        norm = (logmel - logmel.mean(0)) / logmel.std(0, unbiased=False).clamp_min(1e-5)
        frames = logmel.shape[0]
        for t in [0, frames // 2, frames - 1]:
            for kind, values in [("logmel", logmel[t]), ("normalized", norm[t])]:
                out.write(f"{name}\t{x.numel()}\t{frames}\t{t}\t{kind}\t" + " ".join(f"{v:.5f}" for v in values.tolist()) + "\n")
