//! Compiled contracts (ABI + creation bytecode) from the npm packages
//! `@openzeppelin/contracts`, `@uniswap/v2-core` and `@uniswap/v2-periphery`.

use std::path::{Path, PathBuf};

use alloy::dyn_abi::{DynSolValue, JsonAbiExt};
use alloy::json_abi::JsonAbi;
use alloy::primitives::Bytes;

use crate::{Error, Result};

/// One compiled contract.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    pub abi: JsonAbi,
    pub bytecode: Bytes,
}

impl Artifact {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::devnet(format!("parse {}", path.display()), e))?;
        let abi: JsonAbi = serde_json::from_value(v.get("abi").cloned().unwrap_or_default())
            .map_err(|e| Error::devnet(format!("abi of {}", path.display()), e))?;
        let code = v.get("bytecode").and_then(|b| b.as_str()).unwrap_or_default();
        let bytecode: Bytes = alloy::primitives::hex::decode(code)
            .map_err(|e| Error::devnet(format!("bytecode of {}", path.display()), e))?
            .into();
        if bytecode.is_empty() {
            return Err(Error::devnet(format!("bytecode of {}", path.display()), "empty"));
        }
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Artifact { name, abi, bytecode })
    }

    /// Creation code followed by the ABI-encoded constructor arguments.
    pub fn deploy_data(&self, args: &[DynSolValue]) -> Result<Bytes> {
        let mut data = self.bytecode.to_vec();
        if let Some(ctor) = &self.abi.constructor {
            let enc = ctor
                .abi_encode_input(args)
                .map_err(|e| Error::devnet(format!("constructor of {}", self.name), e))?;
            data.extend_from_slice(&enc);
        }
        Ok(data.into())
    }

    /// Calldata of `function(args)` (first overload with that name and arity).
    pub fn call_data(&self, function: &str, args: &[DynSolValue]) -> Result<Bytes> {
        let f = self
            .abi
            .function(function)
            .and_then(|fs| fs.iter().find(|f| f.inputs.len() == args.len()))
            .ok_or_else(|| Error::devnet(format!("{}.{function}", self.name), "no such function"))?;
        f.abi_encode_input(args)
            .map(Into::into)
            .map_err(|e| Error::devnet(format!("{}.{function}", self.name), e))
    }
}

/// The contracts the traffic generator deploys.
#[derive(Debug, Clone)]
pub struct Artifacts {
    pub erc20: Artifact,
    pub weth: Artifact,
    pub factory: Artifact,
    pub router: Artifact,
}

impl Artifacts {
    /// Loads from an npm `node_modules` directory holding the three packages.
    pub fn load(node_modules: &Path) -> Result<Self> {
        let p = |rel: &str| -> PathBuf { node_modules.join(rel) };
        Ok(Artifacts {
            erc20: Artifact::load(&p("@openzeppelin/contracts/build/contracts/ERC20PresetFixedSupply.json"))?,
            weth: Artifact::load(&p("@uniswap/v2-periphery/build/WETH9.json"))?,
            factory: Artifact::load(&p("@uniswap/v2-core/build/UniswapV2Factory.json"))?,
            router: Artifact::load(&p("@uniswap/v2-periphery/build/UniswapV2Router02.json"))?,
        })
    }
}
