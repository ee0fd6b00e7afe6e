#!/usr/bin/python3
"""The pandas + scipy side of bench/read_bench.sh: what `encore stats` does to
a user,item,value CSV, done the usual Python way — read_csv, factorize the
user and item ids (first-appearance order, as encore numbers them), build the
CSR matrix (duplicate pairs summed, as encore does) and its CSC transpose.
Prints the matrix shape and nonzeros so the two sides can be checked to agree.
Usage: read_pandas.py FILE"""
import sys

import numpy as np
import pandas as pd
import scipy.sparse as sp

path = sys.argv[1]
df = pd.read_csv(path, dtype={0: str, 1: str, 2: np.float32}, header=0)
cols = list(df.columns)
users, user_ids = pd.factorize(df[cols[0]])
items, item_ids = pd.factorize(df[cols[1]])
csr = sp.csr_matrix((df[cols[2]].to_numpy(np.float32), (users, items)),
                    shape=(len(user_ids), len(item_ids)))
csc = csr.tocsc()
print(f"users {len(user_ids)} items {len(item_ids)} nonzeros {csr.nnz} {csc.nnz}")
