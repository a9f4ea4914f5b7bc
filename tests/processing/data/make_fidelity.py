"""Writes tests/processing/data/fidelity.root with ROOT (run from that directory, then rename objs.root)."""

import array

import ROOT

ROOT.gROOT.SetBatch(True)
ROOT.TH1.AddDirectory(False)
f = ROOT.TFile("objs.root", "RECREATE")
rng = ROOT.TRandom3(1)
h = ROOT.TH1F("fitted", "fitted", 20, -3, 3)
for _ in range(500):
    h.Fill(rng.Gaus())
ROOT.gStyle.SetOptFit(1111)
h.Fit("gaus", "Q")
line = ROOT.TLine(0, 0, 1, 10)
line.SetLineColor(2)
h.GetListOfFunctions().Add(line)
pt = ROOT.TPaveText(0.1, 0.7, 0.4, 0.9, "NDC")
pt.AddText("Bad run")
pt.SetFillColor(2)
h.GetListOfFunctions().Add(pt)
h.GetXaxis().ChangeLabel(1, 45, 0.05, -1, 2, -1, "first")
h.GetXaxis().ChangeLabel(3, -1, 0)
h.Write()
c = ROOT.TCanvas("c1", "c", 300, 300)
h.Draw()
c.Update()
st = h.GetListOfFunctions().FindObject("stats")
print("stats", st)
h.Write("fitted_drawn")
g = ROOT.TGraph(3, array.array("d", [1, 2, 3]), array.array("d", [3, 2, 1]))
g.SetName("graph")
g.Write()
ge = ROOT.TGraphErrors(
    3,
    array.array("d", [1, 2, 3]),
    array.array("d", [3, 2, 1]),
    array.array("d", [0.1, 0.1, 0.1]),
    array.array("d", [0.2, 0.2, 0.2]),
)
ge.SetName("gerr")
ge.Write()
ga = ROOT.TGraphAsymmErrors(
    3,
    array.array("d", [1, 2, 3]),
    array.array("d", [3, 2, 1]),
    array.array("d", [0.1, 0.1, 0.1]),
    array.array("d", [0.2, 0.2, 0.2]),
    array.array("d", [0.1, 0.1, 0.1]),
    array.array("d", [0.3, 0.2, 0.2]),
)
ga.SetName("gasym")
ga.Write()
mg = ROOT.TMultiGraph("mg", "multi")
g2 = g.Clone("g2")
ROOT.SetOwnership(g2, False)
mg.Add(g2)
ge2 = ge.Clone("ge2")
ROOT.SetOwnership(ge2, False)
mg.Add(ge2)
mg.Write()
eff = ROOT.TEfficiency("eff", "eff", 4, 0, 1)
for _ in range(100):
    eff.Fill(rng.Uniform() < 0.7, rng.Uniform())
eff.Write()
hs = ROOT.THStack("stack", "stack")
for k in range(2):
    hh = ROOT.TH1F(f"s{k}", "s", 10, 0, 1)
    ROOT.SetOwnership(hh, False)
    for _ in range(50):
        hh.Fill(rng.Uniform())
    hh.SetFillColor(k + 2)
    hs.Add(hh)
hs.Write()
ROOT.gInterpreter.Declare("""
TH2Poly* ow_make_poly() {
  auto p = new TH2Poly("poly", "poly", 0, 3, 0, 3);
  p->AddBin(0, 0, 1, 1); p->AddBin(1, 1, 3, 3); p->Fill(0.5, 0.5); p->Fill(2, 2, 3.0);
  return p;
}""")
poly = ROOT.ow_make_poly()
poly.Write()
tf = ROOT.TF1("func", "[0]*x*x+[1]", 0, 2)
tf.SetParameters(1, 2)
tf.Write()
c2 = ROOT.TCanvas("canv", "canv", 300, 300)
g.Draw("AL")
c2.Update()
c2.Write()
c2.Close()
buf = ROOT.TH1F("buffered", "buffered", 10, 0, 1)
buf.SetBuffer(100)
for _ in range(7):
    buf.Fill(rng.Uniform())
buf.Write()
pg = ROOT.TProfile("pg", "pg", 5, 0, 1, "g")
for _ in range(100):
    pg.Fill(rng.Uniform(), rng.Gaus(), rng.Uniform(0.5, 2))
pg.Write()
hi = ROOT.TH1D("infs", "infs", 3, 0, 1)
hi.SetBinContent(1, float("inf"))
hi.SetBinContent(2, float("-inf"))
hi.Write()
f.Close()
